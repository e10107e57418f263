DROP INDEX tokens_creator;
