import { describe, expect, it } from 'vitest';
import { bearerToken, checkAuthorization, isLoopback, isOpenGrpcMethod, tokenEquals } from './auth';

describe('isLoopback', () => {
  // Loopback = only this machine can connect: 127.0.0.0/8, ::1, localhost. Wildcards and names are not.
  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['0:0:0:0:0:0:0:1', true],
    ['::ffff:127.0.0.1', true],
    ['localhost', true],
    ['LOCALHOST', true],
    ['api.localhost', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.5', false],
    ['128.0.0.1', false],
    ['::ffff:10.0.0.1', false],
    ['wattplace.example.org', false],
    ['localhost.example.org', false],
  ])('%s → %s', (host, expected) => {
    expect(isLoopback(host)).toBe(expected);
  });
});

describe('bearer tokens', () => {
  it.each([
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['BEARER\tabc ', 'abc'],
    ['Bearer', undefined],
    ['Bearer a b', undefined],
    ['Basic abc', undefined],
    ['abc', undefined],
    ['', undefined],
  ])('%j → %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  it('tokenEquals compares whole tokens whatever their lengths', () => {
    expect(tokenEquals('s3cret', 's3cret')).toBe(true);
    expect(tokenEquals('s3cre', 's3cret')).toBe(false);
    expect(tokenEquals('s3crett', 's3cret')).toBe(false);
    expect(tokenEquals('', 's3cret')).toBe(false);
    expect(tokenEquals('S3cret', 's3cret')).toBe(false);
  });

  it.each([
    [undefined, /^missing/],
    ['Token s3cret', /^malformed/],
    ['Bearer nope', /^invalid bearer token/],
    ['Bearer s3cret', undefined],
  ])('checkAuthorization(%j)', (header, reason) => {
    const r = checkAuthorization(header, 's3cret');
    if (reason === undefined) expect(r).toBeUndefined();
    else expect(r).toMatch(reason);
  });
});

it.each([
  ['/grpc.health.v1.Health/Check', true],
  ['/grpc.health.v1.Health/Watch', true],
  ['/grpc.reflection.v1.ServerReflection/ServerReflectionInfo', true],
  ['/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo', true],
  ['/wattplace.v1.PlacementService/Place', false],
  ['/wattplace.v1.TelemetryService/StreamReport', false],
])('gRPC method %s open without a token: %s', (path, open) => {
  expect(isOpenGrpcMethod(path)).toBe(open);
});
