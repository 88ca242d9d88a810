/**
 * The parts of core/v1 objects kube2sky reads. Structural types, so record
 * generation stays a pure function testable without any client library.
 */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  annotations?: Record<string, string>;
  resourceVersion?: string;
  uid?: string;
}

export interface ServicePort {
  name?: string;
  protocol?: string;
  port?: number;
}

export interface Service {
  metadata?: ObjectMeta;
  spec?: {
    type?: string;
    clusterIP?: string;
    clusterIPs?: string[];
    externalName?: string;
    ports?: ServicePort[];
    publishNotReadyAddresses?: boolean;
  };
}

export interface EndpointAddress {
  ip?: string;
  hostname?: string;
}

export interface EndpointPort {
  name?: string;
  protocol?: string;
  port?: number;
}

export interface EndpointSubset {
  addresses?: EndpointAddress[];
  notReadyAddresses?: EndpointAddress[];
  ports?: EndpointPort[];
}

export interface Endpoints {
  metadata?: ObjectMeta;
  subsets?: EndpointSubset[];
}

export interface Pod {
  metadata?: ObjectMeta;
  status?: { podIP?: string; podIPs?: Array<{ ip?: string }> };
}

/** discovery.k8s.io/v1 EndpointSlice: the parts kube2sky reads. */
export interface EndpointSliceEndpoint {
  addresses?: string[];
  conditions?: { ready?: boolean | null };
  hostname?: string;
}

export interface EndpointSlicePort {
  name?: string;
  protocol?: string;
  /** null or absent: every port (no SRV record can be written for it). */
  port?: number | null;
}

export interface EndpointSlice {
  metadata?: ObjectMeta & { labels?: Record<string, string> };
  addressType?: string;
  endpoints?: EndpointSliceEndpoint[] | null;
  ports?: EndpointSlicePort[] | null;
}
