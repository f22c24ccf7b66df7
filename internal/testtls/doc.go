// Package testtls makes throw-away PKIs for tests: a CA, a server
// certificate for loopback (127.0.0.1, ::1, localhost) and a client
// certificate, all ECDSA P-256, valid for an hour. It is for tests only;
// nothing here is fit to secure anything.
package testtls
