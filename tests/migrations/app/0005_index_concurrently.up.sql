CREATE INDEX mig_book_title_idx ON mig_book (title);
