/**
 * Byte sizes as people write them on the command line (`--split 4GiB`, `--max-size 50G`,
 * `--gpu-memory URL=24GiB`). One unit table for every flag, so "G" cannot mean one thing here and
 * another there:
 *
 * | unit              | bytes               | why                                        |
 * | ----------------- | ------------------- | ------------------------------------------ |
 * | none, `B`         | 1                   |                                            |
 * | `K`, `M`, `G`, `T` | 1024, 1024², …      | binary, as `du -h`, docker and nvidia-smi  |
 * | `KiB` … `TiB`     | 1024, 1024², …      | binary, by name (IEC)                      |
 * | `KB` … `TB`       | 1000, 1000², …      | decimal, as disk and media makers count (SI) |
 *
 * Units are case-insensitive; a number may have a fraction (`1.5G`) and a space before the unit.
 * Results are whole bytes (rounded down).
 */

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

/** `"700M"`, `"4GiB"`, `"4.7GB"`, `"65536"` → bytes; undefined when it is not a size (see the table above). */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m ? UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || unit === undefined) return undefined;
  return Math.floor(Number(m[1]) * unit);
}
