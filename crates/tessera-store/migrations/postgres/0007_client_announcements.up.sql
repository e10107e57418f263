-- Nodes cache the clients that authenticate (introspection authenticates one on every call).
-- A client deleted or changed on one node is announced on `tessera_changes` as 'client:<id>',
-- like tokens and users in 0004, so that the other nodes stop accepting it at once.

CREATE FUNCTION tessera_announce_client_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tessera_changes', 'client:' || OLD.id);
    RETURN NULL;
END;
$$;

CREATE TRIGGER clients_announce AFTER UPDATE OR DELETE ON clients
    FOR EACH ROW EXECUTE FUNCTION tessera_announce_client_change();
