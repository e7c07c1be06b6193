DROP TRIGGER mig_book_title ON mig_book;
DROP FUNCTION mig_book_title();
