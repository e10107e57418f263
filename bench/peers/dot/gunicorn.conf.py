# gunicorn settings for bench/peers/run.sh (workers and bind come from the command line).
worker_class = "sync"
loglevel = "warning"
accesslog = None
backlog = 2048
