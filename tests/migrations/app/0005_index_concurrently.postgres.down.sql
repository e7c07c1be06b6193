-- dualdb:no-transaction
DROP INDEX CONCURRENTLY mig_book_title_idx;
