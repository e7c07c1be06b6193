DROP TABLE setup_player;
