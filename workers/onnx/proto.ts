import { readFileSync } from "node:fs";
import protobuf from "protobufjs";

/**
 * ONNX protobuf messages as plain objects (protobufjs camelCase field names). int64 fields are
 * JS numbers: exact up to 2^53; INT64_MAX/MIN (Slice's "to the end") decode to +-2^63 and are
 * written back as INT64_MAX/MIN, which covers every int64 an ONNX model stores in practice.
 */

export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
} as const;
export type DataType = (typeof DataType)[keyof typeof DataType];

export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
} as const;

export const DataLocation = { DEFAULT: 0, EXTERNAL: 1 } as const;

export interface StringStringEntryProto {
  key?: string;
  value?: string;
}

export interface OperatorSetIdProto {
  domain?: string;
  version?: number;
}

export interface TensorProto {
  dims?: number[];
  dataType?: number;
  segment?: { begin?: number; end?: number };
  floatData?: number[];
  int32Data?: number[];
  stringData?: Uint8Array[];
  int64Data?: number[];
  name?: string;
  docString?: string;
  rawData?: Uint8Array;
  externalData?: StringStringEntryProto[];
  dataLocation?: number;
  doubleData?: number[];
  uint64Data?: number[];
  metadataProps?: StringStringEntryProto[];
}

export interface SparseTensorProto {
  values?: TensorProto;
  indices?: TensorProto;
  dims?: number[];
}

export interface TensorShapeProto {
  dim?: { dimValue?: number; dimParam?: string; denotation?: string }[];
}

export interface TypeProto {
  tensorType?: { elemType?: number; shape?: TensorShapeProto };
  sequenceType?: { elemType?: TypeProto };
  mapType?: { keyType?: number; valueType?: TypeProto };
  optionalType?: { elemType?: TypeProto };
  sparseTensorType?: { elemType?: number; shape?: TensorShapeProto };
  denotation?: string;
}

export interface ValueInfoProto {
  name?: string;
  type?: TypeProto;
  docString?: string;
  metadataProps?: StringStringEntryProto[];
}

export interface AttributeProto {
  name?: string;
  refAttrName?: string;
  docString?: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  sparseTensor?: SparseTensorProto;
  tp?: TypeProto;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
  tensors?: TensorProto[];
  graphs?: GraphProto[];
  sparseTensors?: SparseTensorProto[];
  typeProtos?: TypeProto[];
}

export interface NodeProto {
  input?: string[];
  output?: string[];
  name?: string;
  opType?: string;
  domain?: string;
  overload?: string;
  attribute?: AttributeProto[];
  docString?: string;
  metadataProps?: StringStringEntryProto[];
}

export interface GraphProto {
  node?: NodeProto[];
  name?: string;
  initializer?: TensorProto[];
  sparseInitializer?: SparseTensorProto[];
  docString?: string;
  input?: ValueInfoProto[];
  output?: ValueInfoProto[];
  valueInfo?: ValueInfoProto[];
  quantizationAnnotation?: { tensorName?: string; quantParameterTensorNames?: StringStringEntryProto[] }[];
  metadataProps?: StringStringEntryProto[];
}

export interface FunctionProto {
  name?: string;
  input?: string[];
  output?: string[];
  attribute?: string[];
  attributeProto?: AttributeProto[];
  node?: NodeProto[];
  docString?: string;
  opsetImport?: OperatorSetIdProto[];
  domain?: string;
  overload?: string;
  valueInfo?: ValueInfoProto[];
  metadataProps?: StringStringEntryProto[];
}

export interface ModelProto {
  irVersion?: number;
  opsetImport?: OperatorSetIdProto[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  graph?: GraphProto;
  metadataProps?: StringStringEntryProto[];
  trainingInfo?: unknown[];
  functions?: FunctionProto[];
}

let modelType: protobuf.Type | null = null;

/** The schema is parsed once per process, on first use. */
function modelProtoType(): protobuf.Type {
  if (!modelType) {
    const text = readFileSync(new URL("./onnx.proto", import.meta.url), "utf8");
    modelType = protobuf.parse(text).root.lookupType("onnx.ModelProto");
  }
  return modelType;
}

export function decodeModel(bytes: Uint8Array): ModelProto {
  const type = modelProtoType();
  let message: protobuf.Message;
  try {
    message = type.decode(bytes);
  } catch (e) {
    throw new Error(`not an ONNX model: ${(e as Error).message}`);
  }
  // bytes stay views into `bytes` (no copy), so a large inline model is not held twice
  return type.toObject(message, { longs: Number, enums: Number, arrays: true }) as ModelProto;
}

const INT64_LIMIT = 2 ** 63;

/** protobufjs wraps numbers >= 2^63 around to INT64_MIN; clamp them to the int64 range instead. */
const LongLimits = protobuf.util.Long as unknown as { MAX_VALUE: object; MIN_VALUE: object };

function int64(v: number): number | object {
  if (v >= INT64_LIMIT) return LongLimits.MAX_VALUE;
  if (v < -INT64_LIMIT) return LongLimits.MIN_VALUE;
  return v;
}
const outOfRange = (v: number) => v >= INT64_LIMIT || v < -INT64_LIMIT;

function saturateTensor(t: TensorProto): TensorProto {
  if (!t.int64Data?.some(outOfRange)) return t;
  return { ...t, int64Data: t.int64Data.map(int64) as number[] };
}

function saturateNodes(nodes: NodeProto[] | undefined): NodeProto[] | undefined {
  return nodes?.map((n) => {
    if (!n.attribute?.length) return n;
    return {
      ...n,
      attribute: n.attribute.map((a) => ({
        ...a,
        i: a.i === undefined ? undefined : (int64(a.i) as number),
        ints: a.ints?.some(outOfRange) ? (a.ints.map(int64) as number[]) : a.ints,
        t: a.t && saturateTensor(a.t),
        tensors: a.tensors?.map(saturateTensor),
        g: a.g && saturateGraph(a.g),
        graphs: a.graphs?.map(saturateGraph),
      })),
    };
  });
}

function saturateGraph(g: GraphProto): GraphProto {
  return { ...g, node: saturateNodes(g.node), initializer: g.initializer?.map(saturateTensor) };
}

export function encodeModel(model: ModelProto): Uint8Array {
  const type = modelProtoType();
  const problem = type.verify(model);
  if (problem) throw new Error(`invalid ModelProto: ${problem}`);
  const safe: ModelProto = {
    ...model,
    graph: model.graph && saturateGraph(model.graph),
    functions: model.functions?.map((f) => ({ ...f, node: saturateNodes(f.node) })),
  };
  return type.encode(safe).finish();
}
