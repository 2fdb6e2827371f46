"""Single sign-on with OpenID Connect: the authorization code flow with PKCE against the
organisation's identity provider, accounts created on first sign-in, roles from group claims."""
