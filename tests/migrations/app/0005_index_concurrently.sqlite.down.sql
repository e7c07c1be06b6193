DROP INDEX mig_book_title_idx;
