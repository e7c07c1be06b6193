DROP TABLE mig_book;
