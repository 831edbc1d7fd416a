import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import selfsigned from 'selfsigned'

export interface TestCert {
  /** env for the fixtures: TLS_CERT and TLS_KEY file paths */
  readonly env: { TLS_CERT: string; TLS_KEY: string }
  remove(): void
}

/**
 * A self-signed certificate for localhost, made now and valid one day, never committed. Made with
 * the `selfsigned` package rather than the openssl command, which a newcomer's machine may lack.
 */
export async function makeTestCert(): Promise<TestCert> {
  const notBeforeDate = new Date(Date.now() - 60_000)
  const notAfterDate = new Date(Date.now() + 24 * 3600_000)
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048, algorithm: 'sha256', notBeforeDate, notAfterDate })
  const dir = mkdtempSync(join(tmpdir(), 'zd-tls-'))
  writeFileSync(join(dir, 'key.pem'), pems.private)
  writeFileSync(join(dir, 'cert.pem'), pems.cert)
  return { env: { TLS_CERT: join(dir, 'cert.pem'), TLS_KEY: join(dir, 'key.pem') }, remove: () => rmSync(dir, { recursive: true, force: true }) }
}
