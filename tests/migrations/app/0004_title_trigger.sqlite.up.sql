CREATE TRIGGER mig_book_title AFTER INSERT ON mig_book
BEGIN
    UPDATE mig_book SET title = CASE WHEN NEW.title = '' THEN 'untitled' ELSE upper(NEW.title) END
    WHERE id = NEW.id;
END;
