// `zizq tls <init|ca|server-cert|client-cert>` (API.md §6.2): a private CA and the server
// and client certificates signed by it, written as PEM files. Existing files are skipped
// unless `overwrite`. Options arrive fully resolved from config.ts.
// Why node-forge: Node's crypto cannot issue X.509 certs; forge is already in our lockfile
// (via listhen) and has no global side effects (@peculiar/x509 2.x needs reflect-metadata).

import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import path from "node:path";
import forge from "node-forge";
import type { TlsAction, TlsCommandOptions } from "./config.ts";

/** A certificate and its private key, PEM text. */
export interface PemPair {
  certPem: string;
  keyPem: string;
}

export interface IssueOptions {
  cn: string;
  days: number;
  /** Signing CA; absent = self-signed (a CA certificate). */
  ca?: PemPair;
  /** server: serverAuth + SANs; client: clientAuth; ca: may sign certificates. */
  kind: "ca" | "server" | "client";
  /** DNS names or IP addresses (server certificates). */
  sans?: string[];
}

/**
 * Issues one certificate with a fresh RSA-2048 key, SHA-256 signed. Validity starts five
 * minutes ago (tolerates small clock skew between machines) and lasts `days`.
 */
export function issueCertificate(opts: IssueOptions): PemPair {
  // Key generation in native crypto: forge's pure-JS RSA keygen takes seconds.
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.rsa.setPublicKey(key.n, key.e);
  // RFC 5280: positive serial of at most 20 bytes; clear the top bit of 16 random bytes.
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  cert.serialNumber = serial.toString("hex");
  const notBefore = new Date(Date.now() - 5 * 60_000);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = new Date(notBefore.getTime() + opts.days * 86_400_000);
  const subject = [{ name: "commonName", value: opts.cn }];
  cert.setSubject(subject);

  let signingKey = key;
  const extensions: object[] = [{ name: "subjectKeyIdentifier" }];
  if (opts.ca) {
    const caCert = forge.pki.certificateFromPem(opts.ca.certPem);
    signingKey = forge.pki.privateKeyFromPem(opts.ca.keyPem) as forge.pki.rsa.PrivateKey;
    cert.setIssuer(caCert.subject.attributes);
    extensions.push({ name: "authorityKeyIdentifier", keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() });
  } else {
    cert.setIssuer(subject);
  }
  if (opts.kind === "ca") {
    extensions.push(
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    );
  } else {
    extensions.push(
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
      opts.kind === "server" ? { name: "extKeyUsage", serverAuth: true } : { name: "extKeyUsage", clientAuth: true },
    );
    if (opts.kind === "server") {
      const altNames = (opts.sans ?? []).map((san) => (isIP(san) ? { type: 7, ip: san } : { type: 2, value: san }));
      extensions.push({ name: "subjectAltName", altNames });
    }
  }
  cert.setExtensions(extensions);
  cert.sign(signingKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

/** What one run did, by absolute file path. */
export interface TlsCommandResult {
  written: string[];
  skipped: string[];
}

/**
 * Runs one `zizq tls` action. Each cert/key pair is skipped as a whole when either file
 * exists and `overwrite` is false (never half-replace a pair); `init` then signs with the
 * CA already on disk. server-cert/client-cert need an existing CA.
 */
export async function runTlsCommand(
  action: TlsAction,
  options: TlsCommandOptions,
  log: (line: string) => void = (line) => process.stderr.write(`zizq: ${line}\n`),
): Promise<TlsCommandResult> {
  const result: TlsCommandResult = { written: [], skipped: [] };
  const out = (file: string) => path.join(options.outDir, file);
  const caFiles = { certPath: options.caCertPath, keyPath: options.caKeyPath };

  const writePair = async (files: { certPath: string; keyPath: string }, issue: () => PemPair): Promise<boolean> => {
    if (!options.overwrite && ((await exists(files.certPath)) || (await exists(files.keyPath)))) {
      result.skipped.push(files.certPath, files.keyPath);
      log(`skipped ${files.certPath} (exists; pass --overwrite to replace)`);
      return false;
    }
    const pair = issue();
    await mkdir(path.dirname(files.certPath), { recursive: true });
    await mkdir(path.dirname(files.keyPath), { recursive: true });
    await writeFile(files.keyPath, pair.keyPem, { mode: 0o600 });
    await writeFile(files.certPath, pair.certPem, { mode: 0o644 });
    result.written.push(files.certPath, files.keyPath);
    log(`wrote ${files.certPath} and ${files.keyPath}`);
    return true;
  };
  const serverFiles = { certPath: out("server-cert.pem"), keyPath: out("server-key.pem") };
  const clientFiles = (name: string) => ({
    certPath: out(`client-${name}-cert.pem`),
    keyPath: out(`client-${name}-key.pem`),
  });

  switch (action) {
    case "ca":
      await writePair(caFiles, () => issueCertificate({ kind: "ca", cn: options.cn, days: options.days }));
      break;
    case "init": {
      await writePair(caFiles, () => issueCertificate({ kind: "ca", cn: options.cn, days: options.caDays }));
      const ca = await readCa(caFiles);
      await writePair(serverFiles, () =>
        issueCertificate({ kind: "server", cn: "Zizq Server", days: options.days, sans: options.sans, ca }),
      );
      for (const name of options.clients) {
        await writePair(clientFiles(name), () => issueCertificate({ kind: "client", cn: name, days: options.days, ca }));
      }
      break;
    }
    case "server-cert": {
      const ca = await readCa(caFiles);
      await writePair(serverFiles, () =>
        issueCertificate({ kind: "server", cn: options.cn, days: options.days, sans: options.sans, ca }),
      );
      break;
    }
    case "client-cert": {
      const ca = await readCa(caFiles);
      for (const name of options.clients) {
        await writePair(clientFiles(name), () => issueCertificate({ kind: "client", cn: options.cn, days: options.days, ca }));
      }
      break;
    }
  }
  return result;
}

async function readCa(files: { certPath: string; keyPath: string }): Promise<PemPair> {
  try {
    return { certPem: await readFile(files.certPath, "utf8"), keyPem: await readFile(files.keyPath, "utf8") };
  } catch (err) {
    throw new Error(`tls: cannot read the CA (${(err as Error).message}); run \`zizq tls ca\` first or pass --ca-cert/--ca-key`, {
      cause: err,
    });
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
