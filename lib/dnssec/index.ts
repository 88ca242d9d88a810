/** lib/dnssec: key loading, canonical form, NSEC3 white lies and the online signer (see README.md). */
export { SIGNING_ALGORITHMS, KeyError, loadKey, keyTag, signData, verifyData, type DnssecKey } from './key.js';
export { canonicalName, canonicalRdata, rrsigLabels, inZone } from './canonical.js';
export { nsec3Hash, base32hex, hashAdd, typeBitmap, nameErrorProof, noDataProof } from './nsec3.js';
export { Signer, type SignerOptions } from './sign.js';
