// The protocol package: everything a device or host needs to speak the link.
export * from './errors';
export * from './cbor';
export * from './crc32';
export * from './cobs';
export * from './frame';
export * from './link';
export * from './schema';
export * from './messages';
export * from './codec';
