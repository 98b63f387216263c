
/*
 * Copyright (C) nginx-gw authors
 *
 * Keys and tokens the JOSE targets verify with, as macros (string
 * literals): the published vectors of RFC 7515 A.1 (HS256), A.2 (RS256),
 * A.3 (ES256) and RFC 8037 A.4 (Ed25519), and the Crypt::JWT fixtures of
 * t/unit/jose_test.c (made by the script in its comment; claims
 * {"sub":"alice","iss":"https://idp.example","aud":["api","web"],
 * "iat":1700000000,"exp":4102444800}).  The same texts are seeds in
 * fuzz/corpus/.
 */


#ifndef _FUZZ_VECTORS_H_INCLUDED_
#define _FUZZ_VECTORS_H_INCLUDED_


#define FZ_A1_K                                                             \
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4h"  \
    "cgUuTwjAzZr1Z9CAow"

#define FZ_A1_JWK                                                           \
    "{\"kty\":\"oct\",\"k\":\"" FZ_A1_K "\"}"

#define FZ_A_PAYLOAD                                                        \
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"      \
    "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ"

#define FZ_A1                                                               \
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." FZ_A_PAYLOAD                \
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

#define FZ_A2_JWK                                                           \
    "{\"kty\":\"RSA\",\"e\":\"AQAB\","                                      \
    "\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddx"    \
    "HmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMs"            \
    "D1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSH"            \
    "SXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdV"            \
    "MTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8"            \
    "NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ\"}"

#define FZ_A2                                                               \
    "eyJhbGciOiJSUzI1NiJ9." FZ_A_PAYLOAD "."                                \
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7"      \
    "AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4"      \
    "BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K"      \
    "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv"      \
    "hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB"      \
    "p0igcN_IoypGlUPQGe77Rw"

#define FZ_A3_XY                                                            \
    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","                 \
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\""

#define FZ_A3_JWK                                                           \
    "{\"kty\":\"EC\",\"crv\":\"P-256\"," FZ_A3_XY "}"

#define FZ_A3_INPUT  "eyJhbGciOiJFUzI1NiJ9." FZ_A_PAYLOAD

#define FZ_A3                                                               \
    FZ_A3_INPUT                                                             \
    ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8I"         \
    "SlSApmWQxfKTUJqPP3-Kg6NU1Q"

#define FZ_8037_JWK                                                         \
    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","                                 \
    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}"

#define FZ_8037_INPUT                                                       \
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"

#define FZ_8037_SIG                                                         \
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5B"      \
    "hVsPt9g7sVvpAr_MuM0KAg"

#define FZ_8037                                                             \
    FZ_8037_INPUT "." FZ_8037_SIG

#define FZ_RSA_JWK                                                          \
    "{\"kid\":\"rsa1\",\"use\":\"sig\",\"e\":\"AQAB\",\"kty\":\"RSA\","     \
    "\"n\":\"3QSJUkYuxVYG_XiExF1rvhCSSgO39kU6LiI4iXfiCwCh9RPM43H5gip5GH"    \
    "chb-yr5G_9GcWvbuEgZhtJkdLELE2KKusxLL9xb9EZSDam7vuUxyey_DVqkzwCQIBc"    \
    "fuJOtvzlUuZr3d--pRuEF9tY_AX2cmUqWaVHw99qoTY2o9nHKHPu65xnlsT8EB9Zc9"    \
    "eRaQ8FuLz0bZXC6tM8gq578MZlDM--sa1jVfO5FoTDYH-fANL57xpNRVQDuSLDaaqf"    \
    "AcHyQHDdj54_1crdsnv6RHqbx_17Hqc3EaUQTUvEjHn1OGm-AKXdifuFrCUnby9PxL"    \
    "WPMYPDnMGwQQE14lTIhw\"}"

#define FZ_RSA_PEM                                                          \
    "-----BEGIN PUBLIC KEY-----\n"                                          \
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA3QSJUkYuxVYG/XiExF1r\n"    \
    "vhCSSgO39kU6LiI4iXfiCwCh9RPM43H5gip5GHchb+yr5G/9GcWvbuEgZhtJkdLE\n"    \
    "LE2KKusxLL9xb9EZSDam7vuUxyey/DVqkzwCQIBcfuJOtvzlUuZr3d++pRuEF9tY\n"    \
    "/AX2cmUqWaVHw99qoTY2o9nHKHPu65xnlsT8EB9Zc9eRaQ8FuLz0bZXC6tM8gq57\n"    \
    "8MZlDM++sa1jVfO5FoTDYH+fANL57xpNRVQDuSLDaaqfAcHyQHDdj54/1crdsnv6\n"    \
    "RHqbx/17Hqc3EaUQTUvEjHn1OGm+AKXdifuFrCUnby9PxLWPMYPDnMGwQQE14lTI\n"    \
    "hwIDAQAB\n"                                                            \
    "-----END PUBLIC KEY-----\n"

#define FZ_P384_JWK                                                         \
    "{\"kid\":\"ec384\",\"crv\":\"P-384\",\"kty\":\"EC\",\"x\":\"Yyt1R5"    \
    "_XlHtHOvvKPpkGYu0WfmnKJsvu7Y5U_gXcXik-unsm8jsL3wZlwJ85MWf5\",\"y\""    \
    ":\"U7S3Vyc5FQeAp3B-dGfgGfqVoXxAbuD_ogDI4K845GJKiPmzCI_z2rCk7Imw-Wx"    \
    "I\"}"

#define FZ_P384_CERT                                                        \
    "-----BEGIN CERTIFICATE-----\n"                                         \
    "MIIBuzCCAUKgAwIBAgIUfky1/phcXnWJzHWqBzSlaeN57REwCgYIKoZIzj0EAwIw\n"    \
    "FDESMBAGA1UEAwwJam9zZS10ZXN0MCAXDTI2MTEyNTE0NTY1MFoYDzIxMjYxMTAx\n"    \
    "MTQ1NjUwWjAUMRIwEAYDVQQDDAlqb3NlLXRlc3QwdjAQBgcqhkjOPQIBBgUrgQQA\n"    \
    "IgNiAARjK3VHn9eUe0c6+8o+mQZi7RZ+acomy+7tjlT+BdxeKT66eybyOwvfBmXA\n"    \
    "nzkxZ/lTtLdXJzkVB4CncH50Z+AZ+pWhfEBu4P+iAMjgrzjkYkqI+bMIj/PasKTs\n"    \
    "ibD5bEijUzBRMB0GA1UdDgQWBBS1P3kyi0YtuW00DDM/WezS5D/49TAfBgNVHSME\n"    \
    "GDAWgBS1P3kyi0YtuW00DDM/WezS5D/49TAPBgNVHRMBAf8EBTADAQH/MAoGCCqG\n"    \
    "SM49BAMCA2cAMGQCMCsSLUA8nRel4nOyd5OKco4L6Ht+dslhW5EpmkTvl0Ya6dVw\n"    \
    "/2YhCYGhvhVirZxVCwIwaN7i5xYFW+QaZJcM1VKHYXIz5rpeNu9LVfSIcc2IfCiv\n"    \
    "3uBOoA0wXmSNoBGWlgrJ\n"                                                \
    "-----END CERTIFICATE-----\n"

#define FZ_P521_JWK                                                         \
    "{\"kid\":\"ec521\",\"crv\":\"P-521\",\"kty\":\"EC\",\"x\":\"ANLWUM"    \
    "7szuB0sIe4x8Kk566ks2AmqT0buUfsgnK7TX8TVoTj6ZAMh3BsSC5IFnBEuVLgdH8d"    \
    "MDNVvB5Ro9kSQcgo\",\"y\":\"AQgaVtF9_6LpbPusw_ODESz44UUvIbIShBIormb"    \
    "jUYoJk400p7UixuUR3D6V0B98-94xvTBT5lWVdnIihkYP_LT9\"}"

#define FZ_ED_PEM                                                           \
    "-----BEGIN PUBLIC KEY-----\n"                                          \
    "MCowBQYDK2VwAyEAwyHOifz7PzybTLFluWr5Li5ECMNyh1+3ufPIMuHEQGc=\n"        \
    "-----END PUBLIC KEY-----\n"

#define FZ_RS512                                                            \
    "eyJraWQiOiJyc2ExIiwiYWxnIjoiUlM1MTIifQ.eyJhdWQiOlsiYXBpIiwid2ViIl0"    \
    "sImV4cCI6NDEwMjQ0NDgwMCwiaWF0IjoxNzAwMDAwMDAwLCJpc3MiOiJodHRwczovL"    \
    "2lkcC5leGFtcGxlIiwic3ViIjoiYWxpY2UifQ.i3GUp6QFMYbNVwbCiwvm2TJHljKN"    \
    "uIvY7U9xQu-sx_6n03UGUrbr4YGCFqBbKSZ6-WrnG8vGVxbrKNImV5ZKqNQFqBxj5r"    \
    "Xe724JPZe5JtxJIsUZqM0fn-l0Ac5wxwMfMrM2LWr_UFbAFDZGbd5Bl2oLvVj2_7dW"    \
    "DKdmFgFiT1-EnVj7TZYrnaGtUhu8VhdMy3k2qOBLcmjVDjVtKU4DJq1Xtkj_JF3mVz"    \
    "6QIzy0_muC-S9Qb4PM8dQyO_vW01ZD8qBDqu-lhG1clr6H29qPi1Hce2T4OLdmqwQa"    \
    "YEF5uapkAeFoaBlvq83PWNvM4wXhkzlBQp3jvv4mAEydxZlAgA"

#define FZ_PS256                                                            \
    "eyJhbGciOiJQUzI1NiIsImtpZCI6InJzYTEifQ.eyJhdWQiOlsiYXBpIiwid2ViIl0"    \
    "sImV4cCI6NDEwMjQ0NDgwMCwiaWF0IjoxNzAwMDAwMDAwLCJpc3MiOiJodHRwczovL"    \
    "2lkcC5leGFtcGxlIiwic3ViIjoiYWxpY2UifQ.VKYqB6s7GPWQ2jZSDTmBgaCEDmXM"    \
    "xR_xwL8JTb_KHdH0yz03fAqpPzeXJiDOR_LWtL-rcpz-9SVO1PVPZ5XGEQ6ohL8KyV"    \
    "unLSzTWzB9yT5WLu50UdH-dzgB79IcwCzZ_PZbrvV6Vgku2kQ5oADXe54mqSx1hxDw"    \
    "7fzRdH_AJd-RsBzU_ZjMWFxAdTjH6fnqcEWaKsFi2jmNB6faYthfLKNAdlP_J57WHB"    \
    "kWNMe2reFcMECW-RUBYA1WD5XKA0l8fyRWp_ufty50ieEoS_0apeXG_TiHml-69Rjw"    \
    "g3gVFPBUzB2G6-MVwV2GGwsNPK7Memq84pFas0hcp9fFUmxsOA"

#define FZ_PS384                                                            \
    "eyJhbGciOiJQUzM4NCJ9.eyJhdWQiOlsiYXBpIiwid2ViIl0sImV4cCI6NDEwMjQ0N"    \
    "DgwMCwiaWF0IjoxNzAwMDAwMDAwLCJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiw"    \
    "ic3ViIjoiYWxpY2UifQ.Rc2HDm8kihqjZuV0KMb9EeOcB7uE7U1KjJsyAKz_-V7Mg3"    \
    "uO4jk35FC7eIEfmk8Rs8m2HNraW49cmZoddCFIxlac6UbzJdf8Iazy8J-2TIT82M3w"    \
    "ocadt0f493fF1Fnv-stW6jrP0kMqKz-_XQXzKiAPjnT23gN3Ob-ZZ8F9YQj9csFiKR"    \
    "F3z2anbEhMIXJtp9y1cm38YmH2TIHhQOQ5OzQuAk7MD_snyAvyyg-97mFzlE_uXKk0"    \
    "Fnbo8ZxdgvlyLeSMjh2mxwhLPTkgSn1i4B8plYMc0axjTiOJBrHfUhSqm8L9Hlaxkf"    \
    "iKx42EUK1yONoUIAddfqIws8FaZT-OYg"

#define FZ_ES384                                                            \
    "eyJraWQiOiJlYzM4NCIsImFsZyI6IkVTMzg0In0.eyJhdWQiOlsiYXBpIiwid2ViIl"    \
    "0sImV4cCI6NDEwMjQ0NDgwMCwiaWF0IjoxNzAwMDAwMDAwLCJpc3MiOiJodHRwczov"    \
    "L2lkcC5leGFtcGxlIiwic3ViIjoiYWxpY2UifQ.Zn5EkCzbI_1vD4r3EUhnCiT9ise"    \
    "qxR7qZuBJOvy_cQ2H6cmon7UWkfXLM5xomOZVrdSj_6tGp9_s-d8OaSdsVkzZ1wfnz"    \
    "lMxVa2fxTKsqsD_nXT4Nwo4_a3rEBToIOrG"

#define FZ_ES512                                                            \
    "eyJraWQiOiJlYzUyMSIsImFsZyI6IkVTNTEyIn0.eyJhdWQiOlsiYXBpIiwid2ViIl"    \
    "0sImV4cCI6NDEwMjQ0NDgwMCwiaWF0IjoxNzAwMDAwMDAwLCJpc3MiOiJodHRwczov"    \
    "L2lkcC5leGFtcGxlIiwic3ViIjoiYWxpY2UifQ.AZtFRQ_435seoLZml021ubQ3rR2"    \
    "T18GqCc8QUyZHF_T4jo3kyVmvvWEeZL0SDLXbxMRTTE3brx-C1UkfhJdpk3kHAAAMZ"    \
    "dH3WdZU-Fo0iNKtnHRKgs7iK6pCxaCiDqzyubfKGhBfLXAT72moxeDAb98rxTSGjSj"    \
    "88Id-ENd1Jeito9Vx"

#define FZ_EDDSA                                                            \
    "eyJhbGciOiJFZERTQSJ9.eyJhdWQiOlsiYXBpIiwid2ViIl0sImV4cCI6NDEwMjQ0N"    \
    "DgwMCwiaWF0IjoxNzAwMDAwMDAwLCJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiw"    \
    "ic3ViIjoiYWxpY2UifQ.By3pDOB-mxMZGChVhfTOBjp6DCNtyUtiUwooy5XHYyiD3u"    \
    "WShcIqrBZOIrkdJ3OieRfYD_fEaPVEwqAD4XKlBQ"

#define FZ_HS256_PEM                                                        \
    "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOlsiYXBpIiwid2ViIl0sImV4cCI6NDEwMjQ0N"    \
    "DgwMCwiaWF0IjoxNzAwMDAwMDAwLCJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiw"    \
    "ic3ViIjoiYWxpY2UifQ.Er5-D8gR2UdG1nTK-3dDk4t_xBjrtfUtABHADoDIpEQ"

#define FZ_RSA_PKCS1_PEM                                                    \
    "-----BEGIN RSA PUBLIC KEY-----\n"                                      \
    "MIIBCgKCAQEA3QSJUkYuxVYG/XiExF1rvhCSSgO39kU6LiI4iXfiCwCh9RPM43H5\n"    \
    "gip5GHchb+yr5G/9GcWvbuEgZhtJkdLELE2KKusxLL9xb9EZSDam7vuUxyey/DVq\n"    \
    "kzwCQIBcfuJOtvzlUuZr3d++pRuEF9tY/AX2cmUqWaVHw99qoTY2o9nHKHPu65xn\n"    \
    "lsT8EB9Zc9eRaQ8FuLz0bZXC6tM8gq578MZlDM++sa1jVfO5FoTDYH+fANL57xpN\n"    \
    "RVQDuSLDaaqfAcHyQHDdj54/1crdsnv6RHqbx/17Hqc3EaUQTUvEjHn1OGm+AKXd\n"    \
    "ifuFrCUnby9PxLWPMYPDnMGwQQE14lTIhwIDAQAB\n"                            \
    "-----END RSA PUBLIC KEY-----\n"

#define FZ_P384_EXPLICIT                                                    \
    "-----BEGIN PUBLIC KEY-----\n"                                          \
    "MIIBtTCCAU0GByqGSM49AgEwggFAAgEBMDwGByqGSM49AQECMQD/////////////\n"    \
    "/////////////////////////////v////8AAAAAAAAAAP////8wZAQw////////\n"    \
    "//////////////////////////////////7/////AAAAAAAAAAD////8BDCzMS+n\n"    \
    "4j7n5JiOBWvj+C0ZGB2cbv6BQRIDFAiPUBOHWsZWOY2KLtGdKoXI7dPsKu8EYQSq\n"    \
    "h8oivosFN46xxx7zIK10bh07Younm5hZ90HgglQqOFUC8l2/VSlsOlReOHJ2Crc2\n"    \
    "F95KliYsb12emL+Sktwp+PQdvSiaFHzp2jETtfC4wApgsc4dfoGdekMdfJDqDl8C\n"    \
    "MQD////////////////////////////////HY02B9Dct31gaDbJIsKd67OwZaszF\n"    \
    "KXMCAQEDYgAEYyt1R5/XlHtHOvvKPpkGYu0WfmnKJsvu7Y5U/gXcXik+unsm8jsL\n"    \
    "3wZlwJ85MWf5U7S3Vyc5FQeAp3B+dGfgGfqVoXxAbuD/ogDI4K845GJKiPmzCI/z\n"    \
    "2rCk7Imw+WxI\n"                                                        \
    "-----END PUBLIC KEY-----\n"

#define FZ_RSA1024_JWK                                                      \
    "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"7EfyEey2zZjzTLXsKodvksUM3u"    \
    "0TS5wjaauIzAJmP8XBpjnDqsX64dLRq6YjnSKwuDRIP5Yscic3h0GhJ2w7tkN-nI5W"    \
    "FXiOnoADI0RcPIFovN-elNBlrzmyehwKmNVT_8ItjOmnicKmS92-ke4q3s6rsWDu1R"    \
    "E3pOSjW2_d6yE\"}"

#define FZ_P256_PRIV_PEM                                                    \
    "-----BEGIN EC PRIVATE KEY-----\n"                                      \
    "MIIBUQIBAQQgxS8b+5fvuR9HtewBzI1fuyzff7I03bDxv8VIaVzcG5iggeMwgeAC\n"    \
    "AQEwLAYHKoZIzj0BAQIhAP////8AAAABAAAAAAAAAAAAAAAA////////////////\n"    \
    "MEQEIP////8AAAABAAAAAAAAAAAAAAAA///////////////8BCBaxjXYqjqT57Pr\n"    \
    "vVV2mIa8ZR0GsMxTsPY7zjw+J9JgSwRBBGsX0fLhLEJH+Lzm5WOkQPJ3A32BLesz\n"    \
    "oPShOUXYmMKWT+NC4v4af5uO5+tKfA+eFivOM1drMV7Oy7ZAaDe/UfUCIQD/////\n"    \
    "AAAAAP//////////vOb6racXnoTzucrC/GMlUQIBAaFEA0IABPJtpmoHNhILX9K8\n"    \
    "aElVoyIQMrHFayzEOFjKDC5gV+pFJQx/FujjhAQNgDfQaCOtE/oYzkCMshcWrn9m\n"    \
    "5xYYd9s=\n"                                                            \
    "-----END EC PRIVATE KEY-----\n"

#define FZ_PS256_SALT0                                                      \
    "eyJhbGciOiJQUzI1NiIsImtpZCI6InJzYTEifQ.eyJzdWIiOiJhbGljZSJ9.hMymFP"    \
    "sy2F6lFM-jKNpS_Yp4IpD0kDJuGl4Hwylptl0UVXE-nHpmS6UAzgpzgKLOhIw1FvoT"    \
    "viMTASrKwaRaXJuAxK5AxVlzZ8kGmS-HoN7DoP049z_iaW-3aQwqzs9bieb9DFPs-_"    \
    "1DNwQ0O7_gYjXPJNbuzQYYrL3Hh7CfWvLnkaDDdwhmfOh6zaNkYgeCU6jiaSCYY4ZM"    \
    "GDSRRQQQn1c0AzItV_pR9W8iQZ2SPegkjbU9SLtSoGtL3cTkfuJufHVQSqZ7DN320J"    \
    "YRUyXVJ_v5i1QWmaa53gcPA7YLStgzfCNxPEDc4MxjL-Vp11q_U6AfpqPaEeRcoYtU"    \
    "ZWPJdw"

#define FZ_ES256_P384                                                       \
    "eyJhbGciOiJFUzI1NiIsImtpZCI6ImVjMzg0In0.eyJzdWIiOiJhbGljZSJ9.QLtGz"    \
    "i5_JJ-3TYm_RcDld4894uvmB8gSmjQg-_iocCrBnQvqgG3pOvCPbJ3E4nX4rWiedQf"    \
    "-ROsSF7omRXbYA9bRNtrhPqpl6PKkGmKm4nG4CcudhtlsNSZXmkJ0-Nxg"


#endif /* _FUZZ_VECTORS_H_INCLUDED_ */
