/**
 * @peculiar/x509 on Node's WebCrypto. Its ASN.1 classes use decorators that need reflect-metadata
 * loaded first, and it must be told which WebCrypto to use: both happen here, once, and every pki
 * module imports x509 through this file.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

// Node's webcrypto is the DOM `Crypto`; this project compiles without the DOM lib, so the names differ.
x509.cryptoProvider.set(webcrypto as never);

export { x509 };
