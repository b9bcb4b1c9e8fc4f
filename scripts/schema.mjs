// Writes schema/vger.schema.json, the config's JSON Schema for editors, from the built library
// (dist/config/json-schema.js; `npm run schema` builds it first). Commit the result:
// test/unit/json-schema.test.ts fails when the committed file differs from a fresh render.
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

let render
try {
  ;({ renderJsonSchema: render } = await import('../dist/config/json-schema.js'))
} catch (e) {
  console.error(`scripts/schema.mjs: cannot load dist/config/json-schema.js (run "npm run build:ts" first): ${e.message}`)
  process.exit(1)
}
const file = fileURLToPath(new URL('../schema/vger.schema.json', import.meta.url))
mkdirSync(fileURLToPath(new URL('../schema/', import.meta.url)), { recursive: true })
writeFileSync(file, render())
console.log(`wrote ${file}`)
