import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain .mjs script without types
import { rewrite } from './rewrite-imports.mjs';

const root = join(import.meta.dirname, '..');

describe('rewrite-imports', () => {
  it('rewrites imports that climb into another lib and keeps those inside one lib', () => {
    const file = join(root, 'libs/workflow/gate.service.ts');
    const text = [
      "import { AppConfig } from '../config/index.js';",
      "import { AuditService } from './audit.service.js';",
      "import type { X } from '../workflow/other.js';",
    ].join('\n');
    expect(rewrite(file, text).split('\n')).toEqual([
      "import { AppConfig } from '#libs/config/index.js';",
      "import { AuditService } from './audit.service.js';",
      "import type { X } from '../workflow/other.js';",
    ]);
  });

  it('rewrites deep imports from the apps and dynamic imports, and leaves the app-local ones', () => {
    const file = join(root, 'apps/worker/src/processors/gate.processor.ts');
    const text =
      "import { GateService } from '../../../../libs/workflow/index.js';\nconst m = await import('../../../../libs/db/index.js');\nimport { x } from './y.js';";
    expect(rewrite(file, text)).toBe(
      "import { GateService } from '#libs/workflow/index.js';\nconst m = await import('#libs/db/index.js');\nimport { x } from './y.js';",
    );
  });
});
