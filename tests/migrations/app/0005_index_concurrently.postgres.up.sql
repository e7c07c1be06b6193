-- dualdb:no-transaction
CREATE INDEX CONCURRENTLY mig_book_title_idx ON mig_book (title);
