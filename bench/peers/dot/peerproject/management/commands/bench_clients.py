"""Creates the benchmark's confidential client_credentials applications.

    manage.py bench_clients CLIENT_ID SECRET

makes CLIENT_ID (secret hashed, DOT's default) and CLIENT_ID-plain (hash_client_secret=False),
both with the same secret.
"""
from django.core.management.base import BaseCommand

from oauth2_provider.models import get_application_model


class Command(BaseCommand):
    help = "create the benchmark's client_credentials applications"

    def add_arguments(self, parser):
        parser.add_argument("client_id")
        parser.add_argument("secret")

    def handle(self, client_id, secret, **options):
        Application = get_application_model()
        for cid, hashed in ((client_id, True), (client_id + "-plain", False)):
            Application.objects.filter(client_id=cid).delete()
            app = Application(
                name=cid,
                client_id=cid,
                client_secret=secret,
                client_type=Application.CLIENT_CONFIDENTIAL,
                authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
                hash_client_secret=hashed,
            )
            app.save()
            app.refresh_from_db()
            self.stdout.write(f"{cid}: stored secret {app.client_secret[:40]}...")
