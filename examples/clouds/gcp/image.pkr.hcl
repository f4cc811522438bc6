# GCP: with a key (`gcp/roleset/packer/key | gcp`) googlecompute finds the
# key file through GOOGLE_APPLICATION_CREDENTIALS (application default
# credentials); with a token (`.../token | gcp`) it takes `access_token`.
variable "project_id" {
  type    = string
  default = "acme-images"
}

variable "access_token" {
  type      = string
  default   = env("GOOGLE_OAUTH_ACCESS_TOKEN")
  sensitive = true
}

source "googlecompute" "golden" {
  project_id          = var.project_id
  zone                = "europe-west1-b"
  source_image_family = "ubuntu-2404-lts-amd64"
  image_name          = "golden-ubuntu-{{timestamp}}"
  ssh_username        = "packer"
  access_token        = var.access_token
}

build {
  sources = ["source.googlecompute.golden"]

  provisioner "shell" {
    inline = ["sudo apt-get update -qq", "sudo apt-get install -y -qq unattended-upgrades"]
  }
}
