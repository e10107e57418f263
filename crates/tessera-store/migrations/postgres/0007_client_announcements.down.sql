DROP TRIGGER clients_announce ON clients;
DROP FUNCTION tessera_announce_client_change();
