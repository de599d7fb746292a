"""Embedded certificates and keys: found at the right offsets, described, private keys never kept."""

from __future__ import annotations

import hashlib
import os

from ecuscan.model import Image, ImageFormat
from ecuscan.provenance import extract
from ecuscan.provenance.certificates import scan_der, scan_pem


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _blob(*parts: bytes) -> tuple[bytes, list[int]]:
    """Random filler with ``parts`` placed in it; returns the blob and each part's offset."""
    rnd = __import__("random").Random(7)
    out = bytearray(rnd.randbytes(1000))
    offsets = []
    for p in parts:
        offsets.append(len(out))
        out += p + rnd.randbytes(333)
    return bytes(out), offsets


def test_der_certificates_found_with_subject_issuer_validity_and_key(pki):
    data, (o1, o2) = _blob(pki.ca_der, pki.leaf_der)
    certs = list(scan_der(data, 16, 256))
    assert [(c.kind, c.offset, c.size) for c in certs] == [
        ("x509-certificate", o1, len(pki.ca_der)), ("x509-certificate", o2, len(pki.leaf_der))]
    ca, leaf = certs
    assert ca.sha256 == _sha(pki.ca_der) and leaf.sha256 == _sha(pki.leaf_der)
    assert ca.subject == "CN=ECU Root CA,O=ACME Electronics" == ca.issuer
    assert leaf.subject == "CN=bcm.ecu.example,O=ACME Electronics"
    assert leaf.issuer == "CN=ECU Root CA,O=ACME Electronics"
    assert ca.key_type == "RSA-2048" and leaf.key_type == "EC-P256"
    assert leaf.not_before == "2026-01-02T03:04:05+00:00" and leaf.not_after == "2031-01-02T03:04:05+00:00"
    assert leaf.encoding == "der"


def test_pem_blocks_certificate_public_and_private_key(pki):
    data, (o_cert, o_pub, o_priv) = _blob(pki.leaf_pem, pki.rsa_spki_pem, pki.ec_private_pem)
    found = list(scan_pem(data, 16, 256))
    assert [(c.kind, c.offset, c.encoding) for c in found] == [
        ("x509-certificate", o_cert, "pem"), ("public-key", o_pub, "pem"), ("private-key", o_priv, "pem")]
    cert, pub, priv = found
    assert cert.size == len(pki.leaf_pem.rstrip(b"\n")) and cert.sha256 == _sha(pki.leaf_der)
    assert cert.subject == "CN=bcm.ecu.example,O=ACME Electronics"
    assert pub.key_type == "RSA-2048"
    assert priv.key_type == "EC-P256" and priv.size == len(pki.ec_private_pem.rstrip(b"\n"))


def test_pem_kept_json_escaped_in_a_config_blob(pki):
    escaped = pki.leaf_pem.replace(b"\n", b"\\n")
    data = b'{"tls": {"client_cert": "' + escaped + b'"}}'
    (cert,) = scan_pem(data, 16, 256)
    assert cert.offset == data.index(b"-----BEGIN") and cert.sha256 == _sha(pki.leaf_der)


def test_private_key_material_is_never_stored(pki):
    data, (off,) = _blob(pki.rsa_private_pkcs8_der)
    prov = extract(Image(path="k.bin", format=ImageFormat.RAW, data=data))
    (key,) = prov.certificates
    assert (key.kind, key.offset, key.size, key.key_type) == ("private-key", off, len(pki.rsa_private_pkcs8_der),
                                                             "RSA-2048")
    assert key.sha256 == _sha(pki.rsa_private_pkcs8_der)
    dumped = repr(prov.to_dict())
    # No piece of the key (hex or base64 of any 16-byte window) leaks into the record.
    for i in range(0, len(pki.rsa_private_pkcs8_der) - 16, 64):
        window = pki.rsa_private_pkcs8_der[i:i + 16]
        assert window.hex() not in dumped


def test_spki_inside_certificate_is_not_reported_twice_and_bare_spki_is(pki):
    data, (o_cert, o_key) = _blob(pki.leaf_der, pki.ec_spki_der)
    found = list(scan_der(data, 16, 256))
    assert [(c.kind, c.offset) for c in found] == [("x509-certificate", o_cert), ("public-key", o_key)]
    assert found[1].key_type == "EC-P256" and found[1].size == len(pki.ec_spki_der) == 91


def test_corrupt_certificate_is_skipped_not_raised(pki):
    bad = bytearray(pki.ca_der)
    bad[40:60] = b"\xff" * 20  # inside the issuer name: no longer a certificate
    data, (o_bad,) = _blob(bytes(bad))
    data += pki.leaf_der[:-30]  # truncated at the end of the buffer
    found = list(scan_der(data, 16, 256))
    # Neither certificate is reported; the public keys inside them are intact and still are.
    assert [(c.kind, c.key_type) for c in found] == [("public-key", "RSA-2048"), ("public-key", "EC-P256")]
    assert o_bad < found[0].offset < o_bad + len(bad)


def test_candidate_and_item_bounds(pki):
    data = pki.ca_der * 10
    assert len(list(scan_der(data, 3, 256))) == 3
    # Only two candidates may be tried: the first two certificates.
    assert len(list(scan_der(data, 100, 2))) == 2
    noise = b"\x30\x82\x01\x00\x30\x82\x00\xf0\x02" * 5000 + pki.ca_der
    assert list(scan_der(noise, 16, 100)) == []  # budget spent on look-alikes first
    assert len(list(scan_der(noise, 16, 10_000))) == 1


def test_random_bytes_yield_nothing():
    data = os.urandom(1 << 20)
    assert list(scan_der(data, 16, 4096)) == [] and list(scan_pem(data, 16, 4096)) == []
