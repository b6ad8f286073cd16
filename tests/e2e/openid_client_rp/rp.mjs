// A relying party built on panva's openid-client, unchanged: discovery, authorization code
// with PKCE and nonce, ID token validation, UserInfo, refresh, RP-initiated logout.
//
// The test drives it over stdio: argv[2] is JSON {issuer, client_id, redirect_uri,
// post_logout_redirect_uri, scope}; the script prints one JSON line with the authorization
// URL, reads one line back (the URL the browser landed on), then prints one JSON line with
// what it validated. Any failure is one JSON line {"error": ...} and exit status 1.
import * as client from 'openid-client';
import { createInterface } from 'node:readline';

const emit = (value) => process.stdout.write(JSON.stringify(value) + '\n');

async function main() {
  const cfg = JSON.parse(process.argv[2]);
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  // Loopback http in the test; openid-client refuses it unless told.
  const config = await client.discovery(new URL(cfg.issuer), cfg.client_id, undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  });

  const verifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const state = client.randomState();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: cfg.redirect_uri,
    scope: cfg.scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    nonce,
    state,
  });
  emit({ authorization_url: authorizationUrl.href });

  const landed = (await lines.next()).value;
  const tokens = await client.authorizationCodeGrant(config, new URL(landed), {
    pkceCodeVerifier: verifier,
    expectedNonce: nonce,
    expectedState: state,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  const refreshedClaims = refreshed.claims();
  const logoutUrl = client.buildEndSessionUrl(config, {
    id_token_hint: refreshed.id_token,
    post_logout_redirect_uri: cfg.post_logout_redirect_uri,
    state: 'bye-' + state,
  });
  emit({
    claims,
    userinfo,
    refreshed_claims: refreshedClaims ?? null,
    refreshed_access_token: refreshed.access_token,
    logout_url: logoutUrl.href,
    logout_state: 'bye-' + state,
  });
}

main().then(
  () => process.exit(0),
  (error) => {
    emit({ error: `${error.name}: ${error.message}`, code: error.code ?? null, cause: String(error.cause ?? '') });
    process.exit(1);
  },
);
