CREATE FUNCTION mig_book_title() RETURNS trigger AS $$
BEGIN
    IF NEW.title = '' THEN
        NEW.title := 'untitled';
    ELSE
        NEW.title := upper(NEW.title);
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER mig_book_title BEFORE INSERT ON mig_book
    FOR EACH ROW EXECUTE FUNCTION mig_book_title();
