// `berth status` shows the engine, compose and buildx versions, and whose plugin the CLI uses.
import { describe, expect, it } from 'vitest';
import { formatDockerTools } from '../../../electron/cli/format.js';

describe('formatDockerTools', () => {
  it('names the engine and API, and Berth’s or the user’s plugins', () => {
    expect(
      formatDockerTools({
        engine: '26.1.5+dfsg1',
        apiVersion: '1.45',
        compose: { source: 'berth', path: '/h/_cli-plugins/docker-compose', version: '2.26.1' },
        buildx: { source: 'user', path: '/usr/libexec/docker/cli-plugins/docker-buildx', version: '0.20.0' },
      }),
    ).toBe('Docker 26.1.5 (API 1.45); compose 2.26.1 (Berth’s); buildx 0.20.0 (yours: /usr/libexec/docker/cli-plugins/docker-buildx)');
  });

  it('says what is missing and why', () => {
    expect(formatDockerTools({ engine: '26.1.5', note: 'left /x/config.json alone: not JSON' })).toBe('Docker 26.1.5; compose -; buildx - — left /x/config.json alone: not JSON');
  });
});
