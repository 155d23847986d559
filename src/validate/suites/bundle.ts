/**
 * `bundle`: the bundle's signature (trusted signer, manifest as signed, not expired) and its
 * integrity (every entry against the manifest: `bundle verify`'s one front-to-back pass).
 */
import { KubechatError } from '../../lib/errors.js';
import { exitCodeRange } from '../../lib/exit-codes.js';
import { verifyBundle } from '../../install/verify-bundle.js';
import { openTrustedBundle } from '../../signing/policy.js';
import { fail, pass, skip, warn, type Check, type Outcome } from '../types.js';
import type { Suite, ValidationContext } from '../context.js';

async function signature(ctx: ValidationContext): Promise<Outcome> {
  const trustedKeys = (await ctx.inputs.trustedKeys?.()) ?? [];
  // Everything allowed: the verdict (signed? expired?) becomes this check's outcome, not a refusal.
  const { bundle, policy } = await openTrustedBundle(
    ctx.inputs.bundlePath!,
    { trustedKeys, allowUnsigned: true, allowExpired: true, now: ctx.now },
    await ctx.bundle(),
  );
  const data = { keyId: policy.keyId ?? null, expires: policy.expires ?? null };
  const unsigned = `${bundle.manifest.name} ${bundle.manifest.version} is not signed: its origin cannot be verified`;
  const unsignedFix = 'install only bundles signed by a trusted key (kubechat bundle sign)';
  if (!policy.signed && !ctx.inputs.allowUnsigned) return fail(unsigned, unsignedFix, { data });
  if (policy.overrides.includes('allow-expired')) {
    const reason = `${bundle.manifest.name} ${bundle.manifest.version} expired on ${policy.expires}`;
    const fix = 'get a fresh bundle from the connected side';
    return ctx.inputs.allowExpired
      ? warn(`${reason} (--allow-expired)`, fix, { data })
      : fail(reason, fix, { data });
  }
  if (!policy.signed) return warn(`${unsigned} (--allow-unsigned)`, unsignedFix, { data });
  return pass(
    `signed by trusted key ${policy.keyId} (${policy.keySource})${policy.expires ? `, expires ${policy.expires}` : ''}`,
    { data },
  );
}

async function integrity(ctx: ValidationContext, signal: AbortSignal): Promise<Outcome> {
  let r;
  try {
    r = await verifyBundle({
      bundlePath: ctx.inputs.bundlePath!,
      trustedKeys: (await ctx.inputs.trustedKeys?.()) ?? [],
      allowExpired: true,
      now: ctx.now,
    });
  } catch (err) {
    // A refused signature is the signature check's failure: a manifest that is not trusted is no
    // reference to check entries against.
    if (err instanceof KubechatError && exitCodeRange(err.exitCode)?.id === 'trust')
      return skip(`entries not checked: the signature was refused (${err.message.split('\n')[0]})`);
    throw err;
  }
  if (signal.aborted) return skip('interrupted');
  const data = { entries: r.entries.checked, bytes: r.entries.bytes, fromBase: r.entries.fromBase };
  if (!r.ok)
    return fail(
      `${r.problems.length} problem(s): ${r.problems[0]!.message}`,
      'copy the bundle again from its source, or recreate it',
      { details: r.problems.map((p) => `${p.kind}: ${p.message}`), data },
    );
  const base =
    r.delta && !r.delta.baseChecked ? ` (${r.entries.fromBase} entries are in its base, not checked)` : '';
  return pass(`${r.entries.checked} entries match the manifest${base}`, { data });
}

export const bundleSuite: Suite = {
  name: 'bundle',
  missing: (i) => (i.bundlePath ? undefined : 'no --bundle given'),
  checks: (ctx) =>
    Promise.resolve<Check[]>([
      { name: 'signature', run: () => signature(ctx) },
      { name: 'integrity', run: (signal) => integrity(ctx, signal) },
    ]),
};
