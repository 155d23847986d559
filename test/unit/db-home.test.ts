/** $KUBECHAT_HOME: root's default is a directory the embedded server's postgres user can enter. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kubechatHome, ROOT_HOME } from '../../src/lib/home.js';

describe('kubechatHome', () => {
  it('is /var/lib/kubechat for root, whatever XDG_DATA_HOME says', () => {
    expect(kubechatHome({}, 0)).toBe('/var/lib/kubechat');
    expect(kubechatHome({ XDG_DATA_HOME: '/root/.local/share' }, 0)).toBe(ROOT_HOME);
  });
  it('is the XDG data directory for other users', () => {
    expect(kubechatHome({}, 1000)).toBe(join(homedir(), '.local', 'share', 'kubechat'));
    expect(kubechatHome({ XDG_DATA_HOME: '/home/u/data' }, 1000)).toBe('/home/u/data/kubechat');
  });
  it('is $KUBECHAT_HOME when set, for root too', () => {
    expect(kubechatHome({ KUBECHAT_HOME: '/srv/kc' }, 0)).toBe('/srv/kc');
    expect(kubechatHome({ KUBECHAT_HOME: '/srv/kc', XDG_DATA_HOME: '/x' }, 1000)).toBe('/srv/kc');
  });
});
