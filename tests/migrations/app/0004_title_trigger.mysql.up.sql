CREATE TRIGGER mig_book_title BEFORE INSERT ON mig_book FOR EACH ROW
BEGIN
    IF NEW.title = '' THEN
        SET NEW.title = 'untitled';
    ELSE
        SET NEW.title = UPPER(NEW.title);
    END IF;
END;
