// A minimal, production-like oidc-provider app for bench/peers/run.sh.
//
//   PORT=8081 CLIENT_ID=bench CLIENT_SECRET=... node app.js
//
// - the client_credentials grant and token introspection (RFC 7662) enabled, everything else
//   that needs a user (devInteractions, registration) off;
// - one confidential client, client_secret_basic (oidc-provider also takes client_secret_post
//   for it when `token_endpoint_auth_method` says so; Basic is the default), secret in plain
//   text in this configuration, as oidc-provider keeps static clients;
// - opaque access tokens (the default format for client_credentials tokens without a resource
//   indicator);
// - the default in-memory adapter (oidc-provider's MemoryAdapter, an LRU cache; not for
//   several processes, hence one process);
// - NODE_ENV=production (set by run.sh), its own signing key and cookie keys, no request
//   logging.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 8081);
const issuer = `http://127.0.0.1:${port}`;

// A fresh RS256 key, so that the dev-only default keys are not used (no token here is a JWT;
// the key would sign ID tokens).
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: 'bench' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: process.env.CLIENT_ID || 'bench',
      client_secret: process.env.CLIENT_SECRET,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'read',
    },
  ],
  scopes: ['read'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
  },
  ttl: { ClientCredentials: 3600 },
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
});

provider.on('server_error', (ctx, err) => console.error('server_error', err));

const server = createServer(provider.callback());
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider ${issuer} ready`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
