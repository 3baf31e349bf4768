/**
 * What a peer may do with an object it reaches remotely: call its methods, read its
 * properties. Computed once per exported object from its own keys and its prototype chain
 * (stopping before Object.prototype). Never exposed: symbol keys, names starting with `_`,
 * `constructor`, and `then` (a proxy must never look like a promise).
 */
export interface Descriptor {
  readonly methods: readonly string[];
  readonly props: readonly string[];
}

/** A descriptor with sets for the server's per-call checks. */
export interface ExportedShape extends Descriptor {
  readonly methodSet: ReadonlySet<string>;
  readonly propSet: ReadonlySet<string>;
}

const HIDDEN = new Set(['constructor', 'then']);

export function isExposedName(name: string): boolean {
  return name.length > 0 && name[0] !== '_' && !HIDDEN.has(name);
}

const protoShapes = new WeakMap<object, { methods: string[]; props: string[] }>();

export function describeObject(target: object): ExportedShape {
  const methods = new Set<string>();
  const props = new Set<string>();
  const seen = new Set<string>();
  const visit = (owner: object, names: { methods: string[]; props: string[] }) => {
    for (const name of names.methods) if (!seen.has(name)) { seen.add(name); methods.add(name); }
    for (const name of names.props) if (!seen.has(name)) { seen.add(name); props.add(name); }
    return owner;
  };
  visit(target, shapeOf(target));
  for (let proto = Object.getPrototypeOf(target); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    let shape = protoShapes.get(proto);
    if (!shape) protoShapes.set(proto, (shape = shapeOf(proto)));
    visit(proto, shape);
  }
  return { methods: [...methods], props: [...props], methodSet: methods, propSet: props };
}

function shapeOf(owner: object): { methods: string[]; props: string[] } {
  const methods: string[] = [];
  const props: string[] = [];
  for (const name of Object.getOwnPropertyNames(owner)) {
    if (!isExposedName(name)) continue;
    const property = Object.getOwnPropertyDescriptor(owner, name)!;
    if (property.get) props.push(name);
    else if (typeof property.value === 'function') methods.push(name);
    else if (property.enumerable) props.push(name);
  }
  return { methods, props };
}
