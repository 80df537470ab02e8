"""A fake of Google's OAuth 2.0 token endpoint, and the service account key files it honours.

google-auth signs a JWT with the key file's private key and POSTs it to the file's `token_uri`
(RFC 7523: grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer). Google checks the signature with
the key's public half and answers an access token. Vertex AI's services fetch one as they are built,
so the key files made here name this fake as their `token_uri`, and it checks what Google checks.
"""

import base64
import binascii
import json
import secrets
import time
from dataclasses import dataclass, field

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_PATH = "/token"
# The audience google-auth signs for, whatever the key file's token_uri: Google's own token endpoint.
AUDIENCE = "https://oauth2.googleapis.com/token"
ACCOUNT = "phone-agent@fake-project.iam.gserviceaccount.com"
TOKEN_SECONDS = 3599  # what Google grants: an hour, less a second


def new_signing_key() -> tuple[rsa.RSAPublicKey, str]:
    """A fresh RSA key: its public half, and its private half as a key file's PEM."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    return private_key.public_key(), pem


def decode_part(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@dataclass
class FakeGoogleOAuth:
    # key ID -> the public key of each key file made here
    public_keys: dict[str, rsa.RSAPublicKey] = field(default_factory=dict)
    issued: list[dict] = field(default_factory=list)  # the claims of every JWT that got a token
    tokens: set[str] = field(default_factory=set)  # every access token issued

    def __post_init__(self) -> None:
        self.app = web.Application()
        self.app.router.add_post(TOKEN_PATH, self.token)

    def key_file(self, key_id: str, root: str) -> str:
        """A service account key file's JSON, as Google issues it, whose tokens come from this fake at
        `root` (http://host:port). `key_id` is one of the planted secrets."""
        self.public_keys[key_id], pem = new_signing_key()
        key = {
            "type": "service_account",
            "project_id": "fake-project",
            "private_key_id": key_id,
            "private_key": pem,
            "client_email": ACCOUNT,
            "client_id": "100000000000000000000",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": f"{root}{TOKEN_PATH}",
            "universe_domain": "googleapis.com",
        }
        return json.dumps(key)

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != JWT_BEARER:
            return self.refuse("unsupported_grant_type", "Invalid grant_type: " + str(form.get("grant_type")))
        try:
            claims = self.verified(str(form.get("assertion", "")))
        except ValueError as error:
            return self.refuse("invalid_grant", str(error))
        self.issued.append(claims)
        access_token = f"ya29.fake-{secrets.token_urlsafe(24)}"
        self.tokens.add(access_token)
        granted = {"access_token": access_token, "expires_in": TOKEN_SECONDS, "token_type": "Bearer"}
        return web.json_response(granted)

    def verified(self, assertion: str) -> dict:
        """The JWT's claims, once its signature, issuer, audience and lifetime check out."""
        try:
            header_part, claims_part, signature_part = assertion.split(".")
            header, claims = json.loads(decode_part(header_part)), json.loads(decode_part(claims_part))
            signature = decode_part(signature_part)
        except (ValueError, binascii.Error):
            raise ValueError("Invalid JWT: not a signed JWT") from None
        public_key = self.public_keys.get(header.get("kid"))
        if header.get("alg") != "RS256" or public_key is None:
            raise ValueError("Invalid JWT Signature.")
        try:
            signed = f"{header_part}.{claims_part}".encode()
            public_key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise ValueError("Invalid JWT Signature.") from None
        if claims.get("iss") != ACCOUNT or claims.get("aud") != AUDIENCE:
            raise ValueError(f"Invalid JWT: issued by {claims.get('iss')} for {claims.get('aud')}")
        issued_at, expires_at, now = claims.get("iat", 0), claims.get("exp", 0), time.time()
        # A minute's leeway for clocks, as Google allows; the JWT may live an hour at most.
        if not (issued_at <= now + 60 and now - 60 < expires_at <= issued_at + 3600):
            raise ValueError("Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.")
        if not claims.get("scope"):
            raise ValueError("Invalid JWT: no scope, and no target audience")
        return claims

    @staticmethod
    def refuse(error: str, description: str) -> web.Response:
        return web.json_response({"error": error, "error_description": description}, status=400)
