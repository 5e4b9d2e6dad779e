terraform {
  required_version = ">= 1.5.0, < 2.0.0"

  # State lives in a GCS bucket, one prefix per environment. Pass the environment's settings at
  # init: terraform init -backend-config=environments/<env>.gcs.tfbackend (see infra/README.md).
  backend "gcs" {}

  required_providers {
    google = {
      source = "hashicorp/google"
      # Exactly the schema tests/infra checks every block against offline (the jsii assembly of
      # cdktf-cdktf-provider-google 16.12.1 = provider 6.50.0); .terraform.lock.hcl pins 6.50.0.
      version = ">= 6.50.0, < 6.51.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.7"
    }
    time = {
      source  = "hashicorp/time"
      version = "~> 0.13"
    }
  }
}

provider "google" {
  project = var.project
  region  = var.region
}
