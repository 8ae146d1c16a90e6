/* Test PKI for the fuzz targets, made once with openssl (see README.md):
 * an EC P-256 issuer and the key of the leaf in corpus/cert_pem/. */
#ifndef FUZZ_PKI_H
#define FUZZ_PKI_H

/* "Fuzz Test Intermediate", self-signed, valid for 100 years. */
static const char fuzz_issuer_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBmDCCAT2gAwIBAgICEAEwCgYIKoZIzj0EAwIwITEfMB0GA1UEAwwWRnV6eiBU\n"
    "ZXN0IEludGVybWVkaWF0ZTAgFw0yNjExMjYyMjEzMjJaGA8yMTI2MTEwMjIyMTMy\n"
    "MlowITEfMB0GA1UEAwwWRnV6eiBUZXN0IEludGVybWVkaWF0ZTBZMBMGByqGSM49\n"
    "AgEGCCqGSM49AwEHA0IABFLgWfcfGY6tJPYhtjgmex8sDY8nLiMJUlJXGKE1P6tM\n"
    "tN3EbGVogwDQvgxxRdWvY/BwOnJ8RY+EcWFpa4YgAFCjYzBhMB8GA1UdIwQYMBaA\n"
    "FPRNOd45O8rGr6oxRAwf+qMZcle2MA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/\n"
    "BAQDAgIEMB0GA1UdDgQWBBT0TTneOTvKxq+qMUQMH/qjGXJXtjAKBggqhkjOPQQD\n"
    "AgNJADBGAiEA06GZ+5XKQVcc4g1Dzd9XwWNks4Trt9fhmoHPNyFd/NECIQDXkMQF\n"
    "TqOAl5+dOH6+BeI3Om7Xea6YBDrP9Re4DWlTnw==\n"
    "-----END CERTIFICATE-----\n"
    ;

/* Private key of the leaf (example.org, *.example.org, www.example.org). */
static const char fuzz_leaf_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgAfl2FFVzH2FZKAFO\n"
    "3HM6YpKrvB1+nVJ+TAtL2qyUYW6hRANCAARMIKlpfkemUvEJ6Af+8yzjKLBr9rlT\n"
    "EADvqVN2QdriexbiamNhaMu4Hs3j/2HmOOCi2g0wUl8u1QsWI2vOI47t\n"
    "-----END PRIVATE KEY-----\n"
    ;

#endif
