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
