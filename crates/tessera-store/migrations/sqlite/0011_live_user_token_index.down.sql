DROP INDEX tokens_user_live;
