export { createDemo, DEMO_TEMPLATE_DIR, type DemoOptions, type DemoReport } from './demo.js';
