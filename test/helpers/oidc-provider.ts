import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
// oidc-provider ships no type declarations.
// @ts-expect-error -- untyped module
import Provider from 'oidc-provider';

// A real OpenID provider (oidc-provider, a certified implementation) on loopback, with test users
// and groups. Its development sign-in pages accept any login; the account decides the claims.

export interface TestUser {
  name: string;
  email: string;
  email_verified?: boolean;
  groups: string[];
}

export interface TestProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  users: Map<string, TestUser>;
  close(): Promise<void>;
}

export async function startOidcProvider(options: { redirectUri: string; users: Record<string, TestUser> }): Promise<TestProvider> {
  const users = new Map(Object.entries(options.users));
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'image-promoter';
  const clientSecret = 'promoter-client-secret-for-tests';
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [options.redirectUri],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    async findAccount(_ctx: unknown, id: string) {
      return {
        accountId: id,
        async claims() {
          const u = users.get(id);
          return u ? { sub: id, name: u.name, email: u.email, email_verified: u.email_verified ?? true, groups: u.groups } : { sub: id };
        },
      };
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
    scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
    features: { devInteractions: { enabled: true } },
    // Refresh tokens without prompt=consent, so sessions can re-derive roles.
    issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(t: string): boolean }) => client.grantTypeAllowed('refresh_token'),
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, RefreshToken: 86_400, Interaction: 600, Session: 3600, Grant: 3600 },
    cookies: { keys: ['oidc-provider-test-cookie-key'] },
  });
  provider.on('server_error', () => undefined);
  server.on('request', provider.callback());
  return {
    issuer,
    clientId,
    clientSecret,
    users,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
