// The OpenID provider the single sign-on tests talk to: node's oidc-provider, configured here
// with the test's accounts and clients (JSON in OIDC_ACCOUNTS and OIDC_CLIENTS), listening on
// 127.0.0.1:PORT. It prints "ready" once it listens and runs until its stdin closes.
//
// Sign-in at the provider is a plain form (POST /interaction/:uid/login with `login` and, when
// the user passed a second factor, `mfa=1`): the provider then asserts amr ["pwd", "mfa"].
// Consent is granted on the user's behalf, as for an organisation's own applications.
//
// For the portal's negative tests, POST /test/next-id-token with a JSON object of claims makes
// the next token response carry an id token with those claims changed (a wrong audience, an
// expiry in the past), signed with the provider's real key: only the portal's own checks can
// tell it from a good one.
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const accounts = JSON.parse(process.env.OIDC_ACCOUNTS);
const clients = JSON.parse(process.env.OIDC_CLIENTS);

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-signing-key', alg: 'RS256', use: 'sig' };
let nextIdTokenChanges = null;

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingKey] },
  cookies: { keys: ['openid-provider-cookie-key-for-tests'] },
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile', 'groups'],
  // oidc-provider puts acr and amr into id tokens only when a scope names them; most
  // organisations' providers always send them, and the portal reads them for MFA.
  claims: {
    acr: null, amr: null, auth_time: null, sid: null, iss: null, openid: ['sub', 'acr', 'amr', 'auth_time'],
    email: ['email'], profile: ['preferred_username', 'name'], groups: ['groups'],
  },
  // Claims of the granted scopes go into the id token itself, as most organisations' providers do.
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: true },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...account }) };
  },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile groups');
    await grant.save();
    return grant;
  },
});

async function formBody(ctx) {
  const chunks = [];
  for await (const chunk of ctx.req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

provider.use(async (ctx, next) => {
  const interaction = ctx.path.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (interaction && ctx.method === 'GET' && !interaction[2]) {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    ctx.type = 'html';
    ctx.body = `<form method="post" action="/interaction/${details.uid}/login">` +
      '<input name="login"><input name="mfa"><button>Sign in</button></form>';
    return;
  }
  if (interaction && ctx.method === 'POST' && interaction[2]) {
    const form = await formBody(ctx);
    const login = form.get('login');
    if (!accounts[login]) {
      ctx.status = 400;
      ctx.body = 'unknown account';
      return;
    }
    const mfa = form.get('mfa') === '1';
    const result = { login: { accountId: login, amr: mfa ? ['pwd', 'mfa'] : ['pwd'], acr: mfa ? 'mfa' : 'pwd' } };
    const target = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    ctx.redirect(target);
    return;
  }
  if (ctx.path === '/test/next-id-token' && ctx.method === 'POST') {
    const chunks = [];
    for await (const chunk of ctx.req) chunks.push(chunk);
    nextIdTokenChanges = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    ctx.status = 204;
    return;
  }
  await next();
  if (ctx.path === '/token' && nextIdTokenChanges && ctx.body && ctx.body.id_token) {
    const claims = { ...decodeJwt(ctx.body.id_token) };
    const now = Math.floor(Date.now() / 1000);
    for (const [name, value] of Object.entries(nextIdTokenChanges)) {
      // exp and iat are given relative to now (seconds), the rest literally.
      claims[name] = (name === 'exp' || name === 'iat') ? now + value : value;
    }
    const { kid, alg } = decodeProtectedHeader(ctx.body.id_token);
    ctx.body = { ...ctx.body, id_token: await new SignJWT(claims).setProtectedHeader({ alg, kid }).sign(privateKey) };
    nextIdTokenChanges = null;
  }
});

const server = provider.listen(port, '127.0.0.1', () => console.log('ready'));
process.stdin.on('end', () => server.close(() => process.exit(0)));
process.stdin.resume();
