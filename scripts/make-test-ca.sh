#!/bin/sh
# make-test-ca.sh - make a throwaway X.509 test PKI for the S/MIME tests.
#
#   scripts/make-test-ca.sh DIR [DOMAIN [PREFIX]]
#
# Makes in DIR (created 0700; DOMAIN defaults to example.test; PREFIX,
# default none, goes in front of every local part), with
# OpenSSL, every key RSA 2048 without a passphrase:
#
#   ca.pem         root CA "panmail Test CA" (cA, keyCertSign, cRLSign)
#   inter.pem      intermediate CA signed by ca.pem
#   rogue-ca.pem   a second root CA that the tests never trust
#   notca.pem      a self-signed certificate that is not a CA (CA:FALSE)
#   valid.pem      alice@DOMAIN: signed by ca.pem, keyEncipherment,
#                  e-mail in subjectAltName and subject, valid 1 year
#   chain.pem      carol@DOMAIN: signed by inter.pem (e-mail in
#                  subjectAltName only); chain-bundle.pem is it + inter.pem,
#                  chain-bundle.p7b the same as PKCS#7 certs-only (DER)
#   expired.pem    dave@DOMAIN: signed by ca.pem, expired 2020-01-31
#   noenc.pem      erin@DOMAIN: signed by ca.pem, keyUsage
#                  digitalSignature only (no keyEncipherment)
#   untrusted.pem  mallory@DOMAIN: signed by rogue-ca.pem
#   revoked.pem    trent@DOMAIN: signed by ca.pem, listed in ca.crl
#   ca.crl         CRL of ca.pem (DER) revoking revoked.pem, next update
#                  in 90 days; ca.crl.pem the same CRL in PEM
#   ca-soon.crl    CRL of ca.pem revoking revoked.pem, next update in 5 days
#   ca-old.crl     CRL of ca.pem revoking revoked.pem that expired 10 days
#                  ago (last update 40 days ago)
#   inter.crl      CRL of inter.pem (DER), empty, next update in 90 days
#   rogue.crl      CRL of rogue-ca.pem (DER), empty
#   NAME.key       each private key (PEM, PKCS#8)
#   NAME.p12       each user certificate with its key (PKCS#12, password
#                  "test", 3DES as gpgsm 2.2 reads it; each one is
#                  checked by a gpgsm --import), for gpgsm --import
#                  or openssl
#   NAME.der       each certificate in DER
#   NAME.sha1 NAME.sha256   each fingerprint: upper-case hex, no colons
#
# The dates are written explicitly with "openssl ca -startdate
# -enddate", so the expired certificate needs no faked clock.
set -eu

dir=${1:?usage: make-test-ca.sh DIR [DOMAIN [PREFIX]]}
domain=${2:-example.test}
prefix=${3:-}
for tool in openssl gpgsm gpgconf; do
    command -v "$tool" >/dev/null ||
        { echo "make-test-ca: $tool is missing" >&2; exit 1; }
done

mkdir -p "$dir"
chmod 700 "$dir"
cd "$dir"

cat > openssl.cnf <<'EOF'
[ ca ]
default_ca = testca

[ testca ]
dir = .
database = $dir/$ENV::CANAME.index
serial = $dir/$ENV::CANAME.serial
new_certs_dir = $dir/newcerts
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
default_crl_days = 30
email_in_dn = yes

[ anything ]
commonName = supplied
emailAddress = optional
organizationName = optional

[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused

[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_user ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = emailProtection
subjectAltName = email:$ENV::ADDR
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ v3_nosan ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ v3_noenc ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = emailProtection
subjectAltName = email:$ENV::ADDR
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
mkdir -p newcerts
rm -rf p12-check
mkdir -m 700 p12-check
echo allow-loopback-pinentry > p12-check/gpg-agent.conf
trap 'gpgconf --homedir "$PWD/p12-check" --kill all 2>/dev/null || true' EXIT
ADDR=unused CANAME=ca
export ADDR CANAME

# PKCS#12 as gpgsm 2.2 reads it (OpenSSL 3 defaults to PBES2, which it
# does not).  gpgsm 2.2 also derives a wrong key from about one salt in
# a hundred: its minip12.c string_to_key writes a sum with a leading
# zero byte one byte short.  Such a file cannot be imported, and the
# tests that import it would fail for a whole run; so each file is
# imported into a scratch gpgsm home, and made again with a new salt
# until gpgsm reads it.
# p12 NAME LABEL: NAME.p12 from NAME.pem and NAME.key.
p12() {
    tries=0
    while :; do
        openssl pkcs12 -export -in "$1.pem" -inkey "$1.key" -name "$2" \
            -passout pass:test -keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES \
            -macalg sha1 -out "$1.p12"
        echo test | gpgsm --homedir p12-check --batch --disable-dirmngr \
            --pinentry-mode loopback --passphrase-fd 0 --import "$1.p12" \
            >/dev/null 2>p12-check.err && return 0
        tries=$((tries + 1))
        if [ "$tries" -ge 8 ]; then
            cat p12-check.err >&2
            echo "make-test-ca: gpgsm cannot import $1.p12" >&2
            exit 1
        fi
    done
}

newkey() {
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
        -out "$1.key" 2>/dev/null
}

fingerprints() {
    openssl x509 -in "$1.pem" -outform DER -out "$1.der"
    for alg in sha1 sha256; do
        openssl x509 -in "$1.pem" -noout -fingerprint -"$alg" |
            sed 's/^.*=//; s/://g' > "$1.$alg"
    done
}

# ca_init NAME: empty database and serial of the CA NAME.
ca_init() {
    : > "$1.index"
    printf '%s\n' "$(openssl rand -hex 8)" > "$1.serial"
}

# root NAME CN EXT: a self-signed certificate valid 10 years.
root() {
    newkey "$1"
    openssl req -new -x509 -config openssl.cnf -key "$1.key" -sha256 \
        -subj "/O=panmail tests/CN=$2" -days 3650 -extensions "${3:-v3_ca}" \
        -set_serial "0x$(openssl rand -hex 8)" -out "$1.pem"
    ca_init "$1"
    fingerprints "$1"
}

# issue CANAME NAME SUBJECT EXT START END: certificate NAME signed by CANAME.
issue() {
    newkey "$2"
    openssl req -new -config openssl.cnf -key "$2.key" -subj "$3" \
        -out "$2.csr"
    CANAME=$1 openssl ca -batch -config openssl.cnf -notext \
        -cert "$1.pem" -keyfile "$1.key" -extensions "$4" \
        -startdate "$5" -enddate "$6" -in "$2.csr" -out "$2.pem" 2>/dev/null
    rm -f "$2.csr"
    fingerprints "$2"
}

# user CANAME NAME LOCALPART EXT [START END]
user() {
    ADDR=$prefix$3@$domain
    issue "$1" "$2" "/O=panmail tests/CN=$3/emailAddress=$ADDR" "$4" \
        "${5:-$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)}" \
        "${6:-$(date -u -d '+365 days' +%Y%m%d%H%M%SZ)}"
    p12 "$2" "$3"
}

now=$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)
later=$(date -u -d '+5 years' +%Y%m%d%H%M%SZ)

root ca "panmail Test CA"
root rogue-ca "panmail Rogue CA"
ADDR=${prefix}notca@$domain
root notca "panmail Not A CA" v3_user
issue ca inter "/O=panmail tests/CN=panmail Test Intermediate CA" v3_ca \
    "$now" "$later"
ca_init inter

user ca valid alice v3_user
user ca expired dave v3_user 20190101000000Z 20200131000000Z
user ca noenc erin v3_noenc
user rogue-ca untrusted mallory v3_user
user ca revoked trent v3_user
# carol: e-mail only in subjectAltName.
ADDR=${prefix}carol@$domain
issue inter chain "/O=panmail tests/CN=carol" v3_user "$now" \
    "$(date -u -d '+365 days' +%Y%m%d%H%M%SZ)"
p12 chain carol
cat chain.pem inter.pem > chain-bundle.pem
openssl crl2pkcs7 -nocrl -certfile chain-bundle.pem -outform DER \
    -out chain-bundle.p7b

CANAME=ca openssl ca -batch -config openssl.cnf -cert ca.pem \
    -keyfile ca.key -revoke revoked.pem 2>/dev/null
# crl CANAME OUT [OPTIONS...]: the CRL of CANAME in DER as OUT.
crl() {
    c=$1 out=$2
    shift 2
    CANAME=$c openssl ca -batch -config openssl.cnf -cert "$c.pem" \
        -keyfile "$c.key" -gencrl "$@" -out "$out.pem" 2>/dev/null
    openssl crl -in "$out.pem" -outform DER -out "$out"
}
day() { date -u -d "$1" +%Y%m%d%H%M%SZ; }

crl ca ca.crl -crldays 90
crl ca ca-soon.crl -crldays 5
crl ca ca-old.crl -crl_lastupdate "$(day '-40 days')" \
    -crl_nextupdate "$(day '-10 days')"
crl inter inter.crl -crldays 90
crl rogue-ca rogue.crl -crldays 90
gpgconf --homedir "$PWD/p12-check" --kill all 2>/dev/null || true
rm -rf newcerts ./*.index* ./*.serial* ca-*.crl.pem inter.crl.pem \
    rogue.crl.pem p12-check p12-check.err
