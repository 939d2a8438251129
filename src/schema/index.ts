import { builder } from './builder.js';
import './workflow.js';
import './version.js';
import './instance.js';
import './step.js';
import './errors.js';
import './instance-mutations.js';
import './subscription.js';
import './nodes.js';

export const schema = builder.toSchema({ sortSchema: true });
