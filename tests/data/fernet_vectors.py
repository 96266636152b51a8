"""Makes tests/data/fernet_vectors.json with Python's `cryptography` package."""
import base64, json, os, sys
import cryptography
from cryptography.fernet import Fernet

keys = [Fernet.generate_key() for _ in range(2)]
plaintexts = [
    b"",
    b"a",
    b"exactly16bytes!!",
    b"1f2e3d4c5b6a79881f2e3d4c5b6a7988",
    "gate-secret-\u00e9\u00e8-\u2603".encode(),
    os.urandom(37).hex().encode(),
    bytes(range(256)),
]
valid = []
for i, pt in enumerate(plaintexts):
    key = keys[i % 2]
    f = Fernet(key)
    ts = 1_700_000_000 + i * 1000
    tok = f.encrypt_at_time(pt, ts)
    assert f.decrypt(tok) == pt
    valid.append({
        "key": key.decode(),
        "plaintext_hex": pt.hex(),
        "token": tok.decode(),
        "timestamp": ts,
    })
# One made with the plain encrypt() (current time), as users' tokens are.
pt = b"mexc-api-secret-0123456789abcdef"
tok = Fernet(keys[0]).encrypt(pt)
valid.append({"key": keys[0].decode(), "plaintext_hex": pt.hex(), "token": tok.decode(),
              "timestamp": int.from_bytes(base64.urlsafe_b64decode(tok)[1:9], "big")})
# Byte-exact vectors: fixed timestamp and IV through Fernet._encrypt_from_parts (the
# private step encrypt_at_time calls after drawing the IV), so an encrypter can be
# compared token for token.
exact = []
for i, pt in enumerate([b"", b"hello", b"exactly16bytes!!", b"gate-api-secret-with-some-length-to-it"]):
    key = keys[i % 2]
    f = Fernet(key)
    iv = bytes((i * 16 + j) % 256 for j in range(16))
    ts = 1_600_000_000 + i
    tok = f._encrypt_from_parts(pt, ts, iv)
    assert f.decrypt(tok) == pt
    exact.append({"key": key.decode(), "plaintext_hex": pt.hex(), "timestamp": ts,
                  "iv_hex": iv.hex(), "token": tok.decode()})
doc = {
    "about": ("Fernet tokens made by Python's cryptography package (cryptography.fernet.Fernet, "
              "version %s, Python %s): keys from Fernet.generate_key(), tokens from "
              "Fernet(key).encrypt_at_time(plaintext, timestamp) and, for the last one, "
              "Fernet(key).encrypt(plaintext). IVs are random. Each token was checked to "
              "decrypt back with Fernet(key).decrypt(token)." % (cryptography.__version__, sys.version.split()[0])),
    "valid": valid,
    "exact_about": ("Same keys; tokens from Fernet(key)._encrypt_from_parts(plaintext, timestamp, iv) "
                    "with the given timestamp and IV, so encrypting with them must give the token "
                    "byte for byte."),
    "exact": exact,
}
json.dump(doc, open(sys.argv[1], "w"), indent=2)
open(sys.argv[1], "a").write("\n")
