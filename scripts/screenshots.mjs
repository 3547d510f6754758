// Screenshots for the README, taken from the real `tessera demo` in Chromium at desktop
// (1280 px) and phone (390 px) widths: `scripts/screenshots` (after `cargo build`).
import path from 'node:path';

import { ROOT, launchBrowser, signIn, startDemo } from '../tests/browser/helpers.mjs';

const SHOTS = [
  { file: 'tokens', path: '/orgs/acme/settings/tokens' },
  { file: 'api-keys', path: '/orgs/acme/settings/api-keys' },
  { file: 'personal-tokens', path: '/orgs/acme/settings/personal-tokens' },
  { file: 'sessions', path: '/account/sessions' },
];
const WIDTHS = [
  { suffix: '', viewport: { width: 1280, height: 900 } },
  { suffix: '-phone', viewport: { width: 390, height: 844 }, isMobile: true },
];

const server = await startDemo();
const browser = await launchBrowser();
try {
  for (const width of WIDTHS) {
    const context = await browser.newContext({ viewport: width.viewport, isMobile: width.isMobile ?? false });
    const page = await context.newPage();
    await signIn(page, server.baseURL, 'alice@example.com');
    for (const shot of SHOTS) {
      await page.goto(`${server.baseURL}${shot.path}`);
      const file = path.join(ROOT, 'docs', `${shot.file}${width.suffix}.png`);
      await page.screenshot({ path: file, fullPage: true });
      // Against the width asked for: a phone widens its layout viewport to fit a page too wide.
      const overflow = (await page.evaluate(() => document.documentElement.scrollWidth)) - width.viewport.width;
      console.log(`${path.relative(ROOT, file)}${overflow > 0 ? `  (page ${overflow} px wider than the viewport)` : ''}`);
    }
    await context.close();
  }
} finally {
  await browser.close();
  await server.stop();
}
