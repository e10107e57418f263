DROP INDEX tokens_user_kind_name;
