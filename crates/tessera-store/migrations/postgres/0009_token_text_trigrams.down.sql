-- The extension stays: other tables of the database may use it.
DROP INDEX IF EXISTS tokens_name_trigrams;
