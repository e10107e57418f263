#!/usr/bin/env bash
# Zabbix 6.0 oracle for tessera's Zabbix front door.
#
# Installs Debian's Zabbix 6.0 frontend (zabbix-frontend-php) and the PostgreSQL
# schema (zabbix-server-pgsql; zabbix_server itself is never started), loads the
# schema into the database "zabbix_oracle" on the already running PostgreSQL
# (127.0.0.1:5432, trust auth), and serves the frontend with a dedicated php-fpm
# master and a dedicated nginx master on 127.0.0.1:8180 only:
#
#   http://127.0.0.1:8180/api_jsonrpc.php          (the JSON-RPC API)
#   http://127.0.0.1:8180/zabbix/api_jsonrpc.php   (same, Debian's usual path)
#
# Usage (as root):  tools/zabbix-oracle/setup.sh [--reset] [--no-apt] [--stop]
#                   tools/zabbix-oracle/setup.sh --restore
#   --reset   drop and recreate the database from the package's SQL (fresh install
#             state: Admin/zabbix, guest) and keep a pristine copy of it
#             (database "zabbix_oracle_pristine") for --restore
#   --restore only put the database back to the pristine fresh-install state
#             (drop it, copy it from the pristine template: a few seconds) and exit;
#             does a full --reset when there is no pristine copy yet
#   --no-apt  skip apt-get update/install (when the packages are known to be there)
#   --stop    stop the oracle's nginx and php-fpm (started by this script) and exit
#
# Idempotent: running it again keeps the database (unless --reset), rewrites the
# config files and starts or reloads the two daemons.
#
# Nothing of the system nginx/php-fpm is touched: our nginx and php-fpm run with
# their own config files under /etc/zabbix-oracle, their own pid files and sockets
# under /run/zabbix-oracle and their own logs under /var/log/zabbix-oracle.
set -euo pipefail

RESET=0
RESTORE=0
NO_APT=0
STOP=0
for arg in "$@"; do
  case "$arg" in
    --reset) RESET=1 ;;
    --restore) RESTORE=1 ;;
    --no-apt) NO_APT=1 ;;
    --stop) STOP=1 ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

PORT="${ZABBIX_ORACLE_PORT:-8180}"
DB_NAME="${ZABBIX_ORACLE_DB:-zabbix_oracle}"
DB_USER="${ZABBIX_ORACLE_DB_USER:-zabbix_oracle}"
DB_PRISTINE="${DB_NAME}_pristine"
PG_HOST=127.0.0.1
PG_PORT=5432
PG_SUPER=postgres
ETC=/etc/zabbix-oracle
RUN=/run/zabbix-oracle
LOG=/var/log/zabbix-oracle
VAR=/var/lib/zabbix-oracle
FRONTEND=/usr/share/zabbix
SQL_DIR=/usr/share/zabbix-server-pgsql
ZBX_CONF=/etc/zabbix/zabbix.conf.php   # where Debian's frontend reads it (CConfigFile::CONFIG_FILE_PATH)
NGINX_PID="$RUN/nginx.pid"
FPM_PID="$RUN/php-fpm.pid"

log() { printf '[zabbix-oracle] %s\n' "$*" >&2; }
die() { printf '[zabbix-oracle] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root"

pid_alive() { # pidfile
  [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

stop_daemons() {
  if pid_alive "$NGINX_PID"; then
    log "stopping nginx (pid $(cat "$NGINX_PID"))"
    nginx -c "$ETC/nginx.conf" -s quit || true
  fi
  if pid_alive "$FPM_PID"; then
    log "stopping php-fpm (pid $(cat "$FPM_PID"))"
    kill -QUIT "$(cat "$FPM_PID")" || true
  fi
  for _ in $(seq 1 50); do
    pid_alive "$NGINX_PID" || pid_alive "$FPM_PID" || return 0
    sleep 0.1
  done
  log "daemons still running after 5 s"
}

if [ "$STOP" = 1 ]; then
  stop_daemons
  exit 0
fi

PSQL=(psql -h "$PG_HOST" -p "$PG_PORT" -v ON_ERROR_STOP=1 -q -X)
db_exists() { # name
  "${PSQL[@]}" -U "$PG_SUPER" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$1'" | grep -q 1
}

if [ "$RESTORE" = 1 ]; then
  if db_exists "$DB_PRISTINE"; then
    timeout 10 pg_isready -h "$PG_HOST" -p "$PG_PORT" -t 5 >/dev/null || die "PostgreSQL is not answering on $PG_HOST:$PG_PORT"
    "${PSQL[@]}" -U "$PG_SUPER" -d postgres -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)"
    "${PSQL[@]}" -U "$PG_SUPER" -d postgres -c "CREATE DATABASE $DB_NAME OWNER $DB_USER TEMPLATE $DB_PRISTINE"
    log "restored $DB_NAME from $DB_PRISTINE"
    exit 0
  fi
  log "no pristine copy yet: doing a full --reset"
  RESET=1
fi

# ---------------------------------------------------------------- packages
PKGS_FIRST=(php-fpm)   # first, so that "php" is satisfied by php8.2-fpm and not by libapache2-mod-php
PKGS=(php-pgsql nginx zabbix-frontend-php zabbix-server-pgsql postgresql-client)
if [ "$NO_APT" = 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  log "apt-get update"
  timeout 300 apt-get update -q >/dev/null
  # The image's /usr/sbin/policy-rc.d denies service starts, so neither
  # zabbix-server nor the system nginx/php-fpm get started by the install.
  log "apt-get install ${PKGS_FIRST[*]}"
  timeout 600 apt-get install -y -q --no-install-recommends "${PKGS_FIRST[@]}" >/dev/null
  log "apt-get install ${PKGS[*]}"
  timeout 600 apt-get install -y -q --no-install-recommends "${PKGS[@]}" >/dev/null
fi
for f in "$FRONTEND/api_jsonrpc.php" "$SQL_DIR/schema.sql.gz" "$SQL_DIR/images.sql.gz" "$SQL_DIR/data.sql.gz"; do
  [ -e "$f" ] || die "missing $f (are zabbix-frontend-php and zabbix-server-pgsql installed?)"
done
FPM_BIN=$(ls /usr/sbin/php-fpm* 2>/dev/null | sort -V | tail -n1)
[ -n "$FPM_BIN" ] || die "php-fpm binary not found"
command -v nginx >/dev/null || die "nginx not found"
log "frontend $(dpkg-query -W -f='${Version}' zabbix-frontend-php), schema $(dpkg-query -W -f='${Version}' zabbix-server-pgsql), $FPM_BIN, $(nginx -v 2>&1)"

# ---------------------------------------------------------------- database
timeout 10 pg_isready -h "$PG_HOST" -p "$PG_PORT" -t 5 >/dev/null || die "PostgreSQL is not answering on $PG_HOST:$PG_PORT"

if ! "${PSQL[@]}" -U "$PG_SUPER" -d postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname='$DB_USER'" | grep -q 1; then
  log "creating role $DB_USER"
  "${PSQL[@]}" -U "$PG_SUPER" -d postgres -c "CREATE ROLE $DB_USER LOGIN"
fi

if [ "$RESET" = 1 ]; then
  for db in "$DB_NAME" "$DB_PRISTINE"; do
    if db_exists "$db"; then
      log "dropping database $db (--reset)"
      "${PSQL[@]}" -U "$PG_SUPER" -d postgres -c "DROP DATABASE $db WITH (FORCE)"
    fi
  done
fi

if ! db_exists "$DB_NAME"; then
  log "creating database $DB_NAME"
  "${PSQL[@]}" -U "$PG_SUPER" -d postgres -c "CREATE DATABASE $DB_NAME OWNER $DB_USER ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' TEMPLATE template0" \
    || "${PSQL[@]}" -U "$PG_SUPER" -d postgres -c "CREATE DATABASE $DB_NAME OWNER $DB_USER ENCODING 'UTF8' TEMPLATE template0"
fi

loaded=0
if "${PSQL[@]}" -U "$DB_USER" -d "$DB_NAME" -tAc "SELECT to_regclass('public.dbversion') IS NOT NULL" | grep -q t; then
  log "schema already loaded (dbversion: $("${PSQL[@]}" -U "$DB_USER" -d "$DB_NAME" -tAc 'SELECT mandatory FROM dbversion'))"
else
  loaded=1
  for part in schema images data; do
    log "loading $SQL_DIR/$part.sql.gz"
    zcat "$SQL_DIR/$part.sql.gz" | timeout 600 "${PSQL[@]}" -U "$DB_USER" -d "$DB_NAME" >/dev/null
  done
fi
if ! db_exists "$DB_PRISTINE"; then
  # Only right after a fresh load is the database pristine; an older one may have been used.
  if [ "$loaded" = 1 ]; then
    log "keeping a pristine copy as $DB_PRISTINE (for --restore)"
    "${PSQL[@]}" -U "$PG_SUPER" -d postgres -c "CREATE DATABASE $DB_PRISTINE OWNER $DB_USER TEMPLATE $DB_NAME"
  else
    log "no pristine copy: run with --reset to make one"
  fi
fi

# ---------------------------------------------------------------- frontend config
install -d -m 0755 /etc/zabbix "$ETC" "$RUN" "$LOG" "$VAR" "$VAR/nginx"
tmp=$(mktemp)
cat >"$tmp" <<EOF
<?php
// Written by tessera's tools/zabbix-oracle/setup.sh: the Zabbix 6.0 oracle's frontend DB config.
\$DB['TYPE']				= 'POSTGRESQL';
\$DB['SERVER']			= '$PG_HOST';
\$DB['PORT']				= '$PG_PORT';
\$DB['DATABASE']			= '$DB_NAME';
\$DB['USER']				= '$DB_USER';
\$DB['PASSWORD']			= '';
\$DB['SCHEMA']			= '';
\$DB['ENCRYPTION']		= false;
\$DB['KEY_FILE']			= '';
\$DB['CERT_FILE']		= '';
\$DB['CA_FILE']			= '';
\$DB['VERIFY_HOST']		= false;
\$DB['CIPHER_LIST']		= '';
\$DB['VAULT_URL']		= '';
\$DB['VAULT_DB_PATH']	= '';
\$DB['VAULT_TOKEN']		= '';
\$DB['DOUBLE_IEEE754']	= true;
\$ZBX_SERVER			= '127.0.0.1';
\$ZBX_SERVER_PORT		= '10051';
\$ZBX_SERVER_NAME		= 'tessera-oracle';
\$IMAGE_FORMAT_DEFAULT	= IMAGE_FORMAT_PNG;
EOF
install -m 0640 -o root -g www-data "$tmp" "$ZBX_CONF"
rm -f "$tmp"

# ---------------------------------------------------------------- php-fpm (own master, own pool)
cat >"$ETC/php-fpm.conf" <<EOF
; tessera zabbix-oracle: a php-fpm master of its own (the system php-fpm is untouched)
[global]
pid = $FPM_PID
error_log = $LOG/php-fpm.log
daemonize = yes

[zabbix-oracle]
user = www-data
group = www-data
listen = $RUN/php-fpm.sock
listen.owner = www-data
listen.group = www-data
listen.mode = 0660
pm = static
pm.max_children = 4
catch_workers_output = yes
php_admin_value[error_log] = $LOG/php-errors.log
php_admin_flag[log_errors] = on
php_admin_flag[display_errors] = off
php_value[date.timezone] = UTC
php_value[post_max_size] = 16M
php_value[max_execution_time] = 300
php_value[max_input_time] = 300
php_value[memory_limit] = 256M
EOF
"$FPM_BIN" -t -y "$ETC/php-fpm.conf" >/dev/null 2>&1 || { "$FPM_BIN" -t -y "$ETC/php-fpm.conf"; die "php-fpm config test failed"; }
if pid_alive "$FPM_PID"; then
  log "reloading php-fpm (pid $(cat "$FPM_PID"))"
  kill -USR2 "$(cat "$FPM_PID")"
else
  log "starting php-fpm"
  "$FPM_BIN" -y "$ETC/php-fpm.conf"
fi

# ---------------------------------------------------------------- nginx (own master, one server block)
fcgi_block() { # SCRIPT_FILENAME value
  cat <<EOF
            include                 /etc/nginx/fastcgi_params;
            fastcgi_param           SCRIPT_FILENAME $1;
            fastcgi_pass            unix:$RUN/php-fpm.sock;
            fastcgi_read_timeout    120s;
            fastcgi_send_timeout    120s;
EOF
}
cat >"$ETC/nginx-site.conf" <<EOF
# tessera zabbix-oracle: Debian's Zabbix 6.0 frontend on 127.0.0.1:$PORT only.
server {
    listen      127.0.0.1:$PORT;
    server_name zabbix-oracle;
    root        $FRONTEND;
    index       index.php;
    client_max_body_size 16m;

    # The API at the root, as tessera serves it ...
    location = /api_jsonrpc.php {
$(fcgi_block "$FRONTEND/api_jsonrpc.php")
    }
    # ... and at Debian's /zabbix alias.
    location = /zabbix/api_jsonrpc.php {
$(fcgi_block "$FRONTEND/api_jsonrpc.php")
    }
    location /zabbix/ {
        alias $FRONTEND/;
        location ~ \.php\$ {
            if (!-f \$request_filename) { return 404; }
$(fcgi_block '$request_filename')
        }
    }
    location ~ \.php\$ {
        try_files \$uri =404;
$(fcgi_block '$document_root$fastcgi_script_name')
    }
    location ~ /(conf|app|include|local)/ { deny all; }
}
EOF
cat >"$ETC/nginx.conf" <<EOF
# tessera zabbix-oracle: an nginx master of its own (the system nginx is untouched)
user www-data;
worker_processes 1;
pid $NGINX_PID;
error_log $LOG/nginx-error.log warn;
events { worker_connections 256; }
http {
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;
    access_log    $LOG/nginx-access.log;
    sendfile      on;
    server_tokens off;
    client_body_temp_path $VAR/nginx/body;
    fastcgi_temp_path     $VAR/nginx/fastcgi;
    proxy_temp_path       $VAR/nginx/proxy;
    scgi_temp_path        $VAR/nginx/scgi;
    uwsgi_temp_path       $VAR/nginx/uwsgi;
    include $ETC/nginx-site.conf;
}
EOF
nginx -t -q -c "$ETC/nginx.conf" -g "error_log $LOG/nginx-error.log;" 2>/dev/null || nginx -t -c "$ETC/nginx.conf" || die "nginx config test failed"
if pid_alive "$NGINX_PID"; then
  log "reloading nginx (pid $(cat "$NGINX_PID"))"
  nginx -c "$ETC/nginx.conf" -s reload
else
  log "starting nginx on 127.0.0.1:$PORT"
  nginx -c "$ETC/nginx.conf"
fi

# ---------------------------------------------------------------- check
BODY='{"jsonrpc":"2.0","method":"apiinfo.version","params":{},"id":1}'
for path in /api_jsonrpc.php /zabbix/api_jsonrpc.php; do
  ok=0
  for _ in $(seq 1 30); do   # at most ~30 s
    out=$(curl -s -m 5 -X POST -H 'Content-Type: application/json-rpc' -d "$BODY" "http://127.0.0.1:$PORT$path" || true)
    if printf '%s' "$out" | grep -Eq '^\{"jsonrpc":"2\.0","result":"6\.0\.[0-9]+","id":1\}$'; then ok=1; break; fi
    sleep 1
  done
  [ "$ok" = 1 ] || die "apiinfo.version at $path answered: ${out:-<nothing>} (see $LOG/)"
  log "OK http://127.0.0.1:$PORT$path -> $out"
done
# A login proves the frontend reaches the database.
out=$(curl -s -m 10 -X POST -H 'Content-Type: application/json-rpc' \
  -d '{"jsonrpc":"2.0","method":"user.login","params":{"username":"Admin","password":"zabbix"},"id":1}' \
  "http://127.0.0.1:$PORT/api_jsonrpc.php" || true)
if printf '%s' "$out" | grep -Eq '"result":"[0-9a-f]{32}"'; then
  log "OK user.login Admin/zabbix -> session id"
  sid=$(printf '%s' "$out" | sed -E 's/.*"result":"([0-9a-f]{32})".*/\1/')
  curl -s -m 10 -X POST -H 'Content-Type: application/json-rpc' \
    -d "{\"jsonrpc\":\"2.0\",\"method\":\"user.logout\",\"params\":[],\"auth\":\"$sid\",\"id\":2}" \
    "http://127.0.0.1:$PORT/api_jsonrpc.php" >/dev/null || true
else
  die "user.login Admin/zabbix answered: ${out:-<nothing>} (see $LOG/)"
fi
log "ready: http://127.0.0.1:$PORT/api_jsonrpc.php"
