import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface TestCert {
  /** env for the fixtures: TLS_CERT and TLS_KEY file paths */
  readonly env: { TLS_CERT: string; TLS_KEY: string }
  remove(): void
}

/** A self-signed certificate for localhost, made now with openssl, valid one day; never committed. */
export function makeTestCert(): TestCert {
  const dir = mkdtempSync(join(tmpdir(), 'zd-tls-'))
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
  return { env: { TLS_CERT: join(dir, 'cert.pem'), TLS_KEY: join(dir, 'key.pem') }, remove: () => rmSync(dir, { recursive: true, force: true }) }
}
