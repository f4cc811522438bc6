# AWS: the amazon plugin reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
# AWS_SESSION_TOKEN, which the `aws` preset sets from `aws/sts/packer-builder`.
variable "region" {
  type    = string
  default = "us-east-1"
}

source "amazon-ebs" "golden" {
  region        = var.region
  instance_type = "t3.small"
  ssh_username  = "ubuntu"
  ami_name      = "golden-ubuntu-{{timestamp}}"
  source_ami_filter {
    filters = {
      name                = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"
      virtualization-type = "hvm"
    }
    owners      = ["099720109477"]
    most_recent = true
  }
}

build {
  sources = ["source.amazon-ebs.golden"]

  provisioner "shell" {
    inline = ["sudo apt-get update -qq", "sudo apt-get install -y -qq unattended-upgrades"]
  }
}
