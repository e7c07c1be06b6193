DROP TRIGGER mig_book_title;
